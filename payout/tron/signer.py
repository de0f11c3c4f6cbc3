"""TRON signers: a TRON key is a secp256k1 key, so the EVM keystore format serves unchanged.

A key's TRON address is ``0x41`` followed by the same 20 bytes as its Ethereum address. Keys come
from an encrypted eth-account JSON keystore (:func:`payout.signer.load_keystore`; password from
the caller, ``PAYOUT_KEYSTORE_PASSWORD`` or a prompt), never from the command line.
A TRON signature is the 65-byte recoverable ECDSA signature ``r || s || v`` of the 32-byte txID,
with ``v`` in {0, 1} (what tronpy produces; java-tron also accepts 27/28).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tronpy.keys import PublicKey, Signature, to_base58check_address

from payout.exceptions import SignerError
from payout.signer import LocalSigner, keystore_address, load_keystore


def tron_address_of_evm(evm_address: str) -> str:
    """The TRON base58check address of the key behind an ``0x`` address."""
    body = evm_address[2:] if evm_address.startswith(("0x", "0X")) else evm_address
    return str(to_base58check_address("41" + body.lower()))


class TronSigner:
    """Signs TRON transaction ids with one key held in memory (never printed)."""

    def __init__(self, signer: LocalSigner) -> None:
        self._signer = signer
        self.address: str = tron_address_of_evm(signer.address)

    def __repr__(self) -> str:
        return f"TronSigner({self.address})"

    @classmethod
    def from_private_key(cls, private_key: bytes, *, label: str = "dev key") -> TronSigner:
        """For public development keys (devnet, demo, tests) only."""
        return cls(LocalSigner(private_key, label=label))

    @classmethod
    def from_keystore(
        cls,
        path: Path,
        password: str | None = None,
        *,
        prompt: Callable[[str], str] | None = None,
    ) -> TronSigner:
        return cls(load_keystore(path, password, prompt=prompt))

    def sign_txid(self, txid: str) -> str:
        """Hex signature (65 bytes, v in {0, 1}) of a 32-byte transaction id."""
        digest = bytes.fromhex(txid)
        if len(digest) != 32:
            raise SignerError(f"a TRON txID is 32 bytes, got {len(digest)}")
        sig = bytearray(self._signer.sign_hash(digest))
        if sig[64] >= 27:
            sig[64] -= 27
        return bytes(sig).hex()


def keystore_tron_address(path: Path) -> str:
    """The TRON address of a keystore, read without decrypting it."""
    return tron_address_of_evm(keystore_address(path))


def recover_signer(txid: str, signature_hex: str) -> str:
    """The TRON address whose key produced ``signature_hex`` over ``txid``."""
    sig = bytearray(bytes.fromhex(signature_hex))
    if len(sig) != 65:
        raise SignerError(f"a TRON signature is 65 bytes, got {len(sig)}")
    if sig[64] >= 27:
        sig[64] -= 27
    public: PublicKey = Signature(bytes(sig)).recover_public_key_from_msg_hash(bytes.fromhex(txid))
    return str(public.to_base58check_address())
