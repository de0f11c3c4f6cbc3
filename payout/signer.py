"""Transaction and message signers: an encrypted JSON keystore or an ape account alias.

A raw private key is never accepted on the command line, never logged and never written except
inside an encrypted keystore. The keystore password comes from the caller (the CLI prompts) or from
``PAYOUT_KEYSTORE_PASSWORD``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from payout.exceptions import PASSWORD_ENV as PASSWORD_ENV
from payout.exceptions import AliasNotFound as AliasNotFound
from payout.exceptions import KeystoreExists as KeystoreExists
from payout.exceptions import KeystoreInvalid as KeystoreInvalid
from payout.exceptions import KeystoreNotFound as KeystoreNotFound
from payout.exceptions import PassphraseMissing as PassphraseMissing
from payout.exceptions import PasswordMissing as PasswordMissing
from payout.exceptions import SignerError
from payout.exceptions import SigningRefused as SigningRefused
from payout.exceptions import WrongPassphrase as WrongPassphrase
from payout.exceptions import WrongPassword as WrongPassword
from payout.exceptions import ape_passphrase_env as ape_passphrase_env

# --- signers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedTransaction:
    """A signed, serialized transaction ready for ``eth_sendRawTransaction``."""

    raw: bytes
    tx_hash: str


@runtime_checkable
class Signer(Protocol):
    """Anything that signs EIP-1559 transactions and EIP-712 / raw-hash messages for one address."""

    @property
    def address(self) -> str: ...

    def sign_transaction(self, tx: Mapping[str, Any]) -> SignedTransaction:
        """Sign a type-2 transaction dict (chainId, nonce, to, value, data, gas, maxFeePerGas,
        maxPriorityFeePerGas)."""
        ...

    def sign_typed_data(self, typed_data: Mapping[str, Any]) -> bytes:
        """EIP-712 signature (65 bytes r || s || v) of a full typed-data message."""
        ...


class LocalSigner:
    """Signs with a key held in memory (decrypted from a keystore, or a public dev key)."""

    def __init__(self, private_key: bytes, *, label: str = "local key") -> None:
        from eth_account import Account

        self._account = Account.from_key(private_key)
        self._label = label

    def __repr__(self) -> str:  # never show the key
        return f"LocalSigner({self.address}, {self._label})"

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign_transaction(self, tx: Mapping[str, Any]) -> SignedTransaction:
        signed = self._account.sign_transaction(dict(tx))
        raw = bytes(signed.raw_transaction)
        return SignedTransaction(raw=raw, tx_hash="0x" + keccak(raw).hex())

    def sign_typed_data(self, typed_data: Mapping[str, Any]) -> bytes:
        from eth_account.messages import encode_typed_data

        message = encode_typed_data(full_message=dict(typed_data))
        return bytes(self._account.sign_message(message).signature)

    def sign_hash(self, message_hash: bytes) -> bytes:
        """Signature of a 32-byte hash (r || s || v, v in {27, 28})."""
        return bytes(self._account.unsafe_sign_hash(message_hash).signature)


def keystore_address(path: Path) -> str:
    """The address stored (unencrypted) in a keystore file, without decrypting it."""
    data = _read_keystore(path)
    address = data.get("address")
    if not isinstance(address, str):
        raise KeystoreInvalid(path, "no address field")
    return to_checksum_address(address if address.startswith("0x") else "0x" + address)


def _read_keystore(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise KeystoreNotFound(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeystoreInvalid(path, type(exc).__name__) from exc
    if not isinstance(data, dict) or "crypto" not in {k.lower() for k in data}:
        raise KeystoreInvalid(path, "no crypto section")
    return data


def load_keystore(
    path: Path,
    password: str | None = None,
    *,
    prompt: Callable[[str], str] | None = None,
) -> LocalSigner:
    """Decrypt a keystore; password: argument, else $PAYOUT_KEYSTORE_PASSWORD, else ``prompt``."""
    from eth_account import Account

    data = _read_keystore(path)
    if password is None:
        password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if prompt is None:
            raise PasswordMissing(path)
        password = prompt(f"Password for {path.name}")
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        raise WrongPassword(path) from exc
    return LocalSigner(bytes(key), label=f"keystore {path.name}")


#: Order n of the secp256k1 group: a private key is an integer in [1, n - 1].
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def write_keystore(
    path: Path, private_key: bytes, password: str, *, iterations: int | None = None
) -> str:
    """Encrypt ``private_key`` into a new keystore file (mode 0600); returns the address.

    ``iterations`` lowers the scrypt work factor (a power of two); only tests should use it.
    """
    from eth_account import Account

    if path.exists():
        raise KeystoreExists(path)
    if len(private_key) != 32:
        raise SignerError("a private key is 32 bytes (64 hex digits)", hint="check the key")
    if not 0 < int.from_bytes(private_key, "big") < SECP256K1_ORDER:
        # Never echo the value: it may be a real key with a typo.
        raise SignerError(
            "the private key is out of range: it must be between 1 and the secp256k1 group "
            "order - 1 (zero and values at or above the order are no key)",
            hint="check the key you pasted; nothing was written",
        )
    kwargs: dict[str, Any] = {}
    if iterations is not None:
        kwargs["iterations"] = iterations
    data = Account.encrypt(private_key, password, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return str(Account.from_key(private_key).address)


class ApeAccountSigner:
    """Signs through an ape account object (keyfile, test account, or a hardware wallet through
    ape's account plugins, which prompt on the device)."""

    def __init__(self, account: Any, label: str) -> None:
        self._account = account
        self._alias = label

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._alias})"

    @property
    def address(self) -> str:
        return to_checksum_address(str(self._account.address))

    def sign_transaction(self, tx: Mapping[str, Any]) -> SignedTransaction:
        from ape_ethereum.transactions import DynamicFeeTransaction

        fields: dict[str, Any] = {
            "chainId": tx["chainId"],
            "nonce": tx["nonce"],
            "to": tx.get("to"),
            "value": tx.get("value", 0),
            "data": tx.get("data", b""),
            "gas": tx["gas"],
            "maxFeePerGas": tx["maxFeePerGas"],
            "maxPriorityFeePerGas": tx["maxPriorityFeePerGas"],
            "from": self.address,
        }
        txn = DynamicFeeTransaction(**fields)
        signed = self._account.sign_transaction(txn)
        if signed is None or signed.signature is None:
            raise SigningRefused(f"ape account {self._alias!r}")
        raw = bytes(signed.serialize_transaction())
        return SignedTransaction(raw=raw, tx_hash="0x" + keccak(raw).hex())

    def sign_typed_data(self, typed_data: Mapping[str, Any]) -> bytes:
        from eth_account.messages import encode_typed_data

        message = encode_typed_data(full_message=dict(typed_data))
        sig = self._account.sign_message(message)
        if sig is None:
            raise SigningRefused(f"ape account {self._alias!r}")
        return bytes(sig.r) + bytes(sig.s) + bytes([sig.v])


class ApeAliasSigner(ApeAccountSigner):
    """An ape account loaded by alias (``ape accounts list``).

    A keyfile account is unlocked once, before anything is signed, with the first passphrase
    found: ``password``, else ``PAYOUT_KEYSTORE_PASSWORD``, else ape's own
    ``APE_ACCOUNTS_<alias>_PASSPHRASE`` (the alias exactly as named), else ``prompt`` (a
    terminal); without any, :class:`PassphraseMissing`. It then signs without asking again for
    this process. Other accounts (hardware wallets through ape's plugins) confirm on the device.
    """

    def __init__(
        self,
        alias: str,
        password: str | None = None,
        *,
        prompt: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(_load_ape_account(alias), alias)
        if hasattr(self._account, "set_autosign"):
            self._unlock(alias, password, prompt)

    def _unlock(
        self, alias: str, password: str | None, prompt: Callable[[str], str] | None
    ) -> None:
        from ape.exceptions import AccountsError
        from ape_accounts.accounts import InvalidPasswordError

        source = "the password given"
        passphrase = password
        for variable in (PASSWORD_ENV, ape_passphrase_env(alias)):
            if passphrase is None and os.environ.get(variable):
                passphrase, source = os.environ[variable], variable
        if passphrase is None:
            if prompt is None:
                raise PassphraseMissing(alias)
            passphrase, source = prompt(f"Passphrase for ape account {alias!r}"), "the prompt"
        if not passphrase:
            raise PassphraseMissing(alias)
        try:
            # Given a passphrase, ape tries it once and never falls back to its own prompt.
            self._account.set_autosign(True, passphrase=passphrase)
        except InvalidPasswordError as exc:
            raise WrongPassphrase(alias, source) from exc
        except (AccountsError, ValueError, OSError) as exc:
            raise SignerError(
                f"could not unlock ape account {alias!r}: {type(exc).__name__}",
                hint=f"check the keyfile of {alias!r} (`ape accounts list`) and {source}",
            ) from exc


def _load_ape_account(alias: str) -> Any:
    from ape import accounts

    _ape_logs_to_stderr()
    try:
        return accounts.load(alias)
    except Exception as exc:  # ape raises its own AccountsError / IndexError variants
        raise AliasNotFound(alias) from exc


def ape_alias_address(alias: str) -> str:
    """The address of an ape account, without unlocking it."""
    return to_checksum_address(str(_load_ape_account(alias).address))


def _ape_logs_to_stderr() -> None:
    """Keep stdout for our output (``--json``): ape's log handler looks its stream up by level
    name, misses (its table is keyed by enum) and writes warnings to stdout."""
    import logging

    from ape.logging import ClickHandler

    for handler in logging.getLogger("ape").handlers:
        if isinstance(handler, ClickHandler):
            for level in ("debug", "info", "success", "warning", "error", "critical"):
                handler.echo_kwargs[level] = {"err": True}


def open_signer(
    *,
    keystore: Path | None = None,
    alias: str | None = None,
    password: str | None = None,
    prompt: Callable[[str], str] | None = None,
) -> Signer:
    """The signer chosen on the command line: exactly one of ``keystore`` or ``alias``."""
    if (keystore is None) == (alias is None):
        raise SignerError(
            "choose exactly one signer",
            hint="pass --keystore FILE (eth-account JSON keystore) or --account ALIAS (ape)",
        )
    if keystore is not None:
        return load_keystore(keystore, password, prompt=prompt)
    assert alias is not None
    return ApeAliasSigner(alias, password, prompt=prompt)
