"""Safe path without a chain: file formats, encodings, hashes, the GS code table."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from payout.exceptions import SafeProposalFileError
from payout.safe.gs_code import GS_CODES, decode_gs_revert, find_gs_code
from payout.safe.multisend import (
    MULTISEND_SELECTOR,
    InnerCall,
    MultiSendDecodeError,
    canonical_library,
    code_matches,
    decode_multisend,
    encode_multisend,
)
from payout.safe.proposal import (
    SIG_CONTRACT,
    SIG_EIP712,
    BatchInfo,
    OwnerSignature,
    PayoutRow,
    Proposal,
    ProposedTx,
    SafeTxFields,
    TokenRef,
    load_proposal,
    next_nonce,
    proposal_to_json,
    safe_tx_hashes,
    save_proposal,
)
from payout.safe.signature import (
    SignatureCheck,
    encode_signatures,
    recover_eoa,
    safe_message_hash,
)
from payout.safe.txbuilder import add_checksum, checksum, serialize, validate_checksum
from payout.types import PayMode

A = "0x1111111111111111111111111111111111111111"
B = "0x2222222222222222222222222222222222222222"
SAFE = "0x3333333333333333333333333333333333333333"
ZERO = "0x0000000000000000000000000000000000000000"

# The Transaction Builder app's own jest fixture (safe-react-apps, tx-builder checksum tests).
TX_BUILDER_FIXTURE = {
    "version": "1.0",
    "chainId": "4",
    "createdAt": 1646321521061,
    "meta": {
        "name": "test batch file",
        "txBuilderVersion": "1.4.0",
        "checksum": "",
        "createdFromSafeAddress": "0xDF8a1Ce35c9a6ACE153B4e0767942f1E2291a1Aa",
        "createdFromOwnerAddress": "0x49d4450977E2c95362C13D3a31a09311E0Ea26A6",
    },
    "transactions": [
        {
            "to": "0x49d4450977E2c95362C13D3a31a09311E0Ea26A6",
            "value": "0",
            "contractMethod": {
                "inputs": [{"internalType": "address", "name": "paramAddress", "type": "address"}],
                "name": "testAddress",
                "payable": False,
            },
            "contractInputsValues": {"paramAddress": "0x49d4450977E2c95362C13D3a31a09311E0Ea26A6"},
        },
        {
            "to": "0x49d4450977E2c95362C13D3a31a09311E0Ea26A6",
            "value": "0",
            "contractMethod": {
                "inputs": [{"internalType": "bool", "name": "paramBool", "type": "bool"}],
                "name": "testBool",
                "payable": False,
            },
            "contractInputsValues": {"paramAddress": "", "paramBool": "false"},
        },
        {
            "to": "0x49d4450977E2c95362C13D3a31a09311E0Ea26A6",
            "value": "2000000000000000000",
            "data": "0x42f4579000000000000000000000000049d4450977e2c95362c13d3a31a09311e0ea26a6",
        },
    ],
}


def test_tx_builder_serialization_matches_the_apps_vectors() -> None:
    doc = copy.deepcopy(TX_BUILDER_FIXTURE)
    # Older app versions hashed the file as is; newer ones with meta.name set to null.
    assert "0x" + keccak(serialize(doc).encode()).hex() == (
        "0x832ecdb6653751ed00b79dede73864163e46e71815b72e11e506d6399bedffc9"
    )
    doc["meta"]["name"] = None  # type: ignore[index]
    assert "0x" + keccak(serialize(doc).encode()).hex() == (
        "0x4ecbfd364aa6759983915644e73f8bd411e85a2dc306f252a387c2728c4db64c"
    )


def test_tx_builder_checksum_is_what_the_app_validates() -> None:
    doc = copy.deepcopy(TX_BUILDER_FIXTURE)
    del doc["meta"]["checksum"]  # type: ignore[attr-defined]
    with_sum = add_checksum(doc)
    assert validate_checksum(with_sum)
    # Independent of key order and of the name; sensitive to the transactions.
    reordered = {k: with_sum[k] for k in reversed(list(with_sum))}
    reordered["meta"] = {**with_sum["meta"], "name": "renamed"}
    assert validate_checksum(reordered)
    tampered = copy.deepcopy(with_sum)
    tampered["transactions"].reverse()
    assert not validate_checksum(tampered)
    assert checksum(with_sum) == with_sum["meta"]["checksum"]


def test_multisend_round_trip_and_strict_decoding() -> None:
    calls = [InnerCall(0, A, 0, b"\x01\x02"), InnerCall(0, B, 5, b"")]
    data = encode_multisend(calls)
    assert data[:4] == MULTISEND_SELECTOR == bytes.fromhex("8d80ff0a")
    assert decode_multisend(data) == calls
    with pytest.raises(MultiSendDecodeError):
        decode_multisend(data + b"\x00" * 32)  # trailing bytes a reviewer would not see
    with pytest.raises(MultiSendDecodeError):
        decode_multisend(b"\xde\xad\xbe\xef" + data[4:])
    with pytest.raises(MultiSendDecodeError):
        decode_multisend(encode_multisend([]))
    # Truncated inner transaction: a declared data length running past the payload.
    packed = bytes([0]) + bytes.fromhex(A[2:]) + (0).to_bytes(32, "big") + (99).to_bytes(32, "big")
    from eth_abi.abi import encode

    with pytest.raises(MultiSendDecodeError, match="overruns"):
        decode_multisend(MULTISEND_SELECTOR + encode(["bytes"], [packed]))


def test_canonical_multisend_table() -> None:
    lib = canonical_library("0x9641d764fc13c8b624c04430c7356c1c7c8102e2")
    assert lib is not None and lib.version == "1.4.1"
    import safe_eth.eth.contracts as shipped

    abi_file = Path(shipped.__file__).parent / "abis" / "MultiSendCallOnly_V1_4_1.json"
    runtime = bytes.fromhex(json.loads(abi_file.read_text())["deployedBytecode"][2:])
    assert code_matches(lib, runtime)
    assert not code_matches(lib, runtime + b"\x00")
    assert canonical_library("0x38869bf66a61cF6bDB996A6aE40D5853Fd43B526") is None  # MultiSend
    assert canonical_library("not an address") is None


def test_next_nonce_rule() -> None:
    assert next_nonce(5, []) == 5
    assert next_nonce(5, [5, 6]) == 7
    assert next_nonce(5, [3, 4]) == 5  # executed ones do not count
    assert next_nonce(5, [9]) == 10


def _proposal() -> Proposal:
    fields = SafeTxFields(A, 0, b"\x8d\x80\xff\x0a", 1, 0, 0, 0, ZERO, ZERO, 3)
    batch = BatchInfo(0, b"\x07" * 32, PayMode.STRICT, B, A, 2**90, (PayoutRow("id-1", A, 2**90),))
    h = safe_tx_hashes(fields, safe=SAFE, chain_id=1, version="1.4.1")
    inner = OwnerSignature(B, SIG_EIP712, b"\x01" * 65)
    sigs = (
        OwnerSignature(A, SIG_CONTRACT, b"", (inner,)),
        OwnerSignature(B, SIG_EIP712, b"\x02" * 65),
    )
    return Proposal(
        1,
        SAFE,
        "1.4.1",
        A,
        TokenRef(B, "USDC", 6),
        A,
        (ProposedTx(fields, h.safe_tx_hash, batch, sigs),),
    )


def test_proposal_file_round_trip_keeps_every_field(tmp_path: Path) -> None:
    proposal = _proposal()
    path = tmp_path / "p.json"
    save_proposal(proposal, path)
    assert load_proposal(path) == proposal
    text = json.loads(path.read_text())
    tx = text["transactions"][0]
    assert set(tx["safeTx"]) == {
        "to",
        "value",
        "data",
        "operation",
        "safeTxGas",
        "baseGas",
        "gasPrice",
        "gasToken",
        "refundReceiver",
        "nonce",
    }
    assert tx["batch"]["total"] == str(2**90)  # big amounts survive JavaScript tooling
    assert tx["batch"]["payoutIds"] == ["id-1"] and tx["batch"]["count"] == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "not a Safe payout proposal"),
        (lambda d: d["transactions"][0]["safeTx"].pop("nonce"), "missing 'nonce'"),
        (lambda d: d["transactions"][0]["safeTx"].update(to="0x123"), "not an address"),
        (lambda d: d["transactions"][0]["signatures"][1].update(signature="0x00"), "expected 65"),
        (lambda d: d["transactions"][0]["signatures"][1].update(type="magic"), "unknown signature"),
        (lambda d: d["transactions"][0]["batch"].update(mode="yolo"), "unknown mode"),
    ],
)
def test_bad_proposal_files_are_refused_with_the_field(
    tmp_path: Path, mutate: object, message: str
) -> None:
    data = proposal_to_json(_proposal())
    mutate(data)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SafeProposalFileError, match=message):
        load_proposal(path)
    path.write_text("{not json")
    with pytest.raises(SafeProposalFileError, match="not readable JSON"):
        load_proposal(path)


def test_safe_tx_hash_matches_safe_eth_py() -> None:
    from safe_eth.safe import SafeTx

    proposal = _proposal()
    f = proposal.transactions[0].safe_tx
    for version in ("1.3.0", "1.4.1"):
        ours = safe_tx_hashes(f, safe=SAFE, chain_id=137, version=version)
        theirs = SafeTx(
            None,
            SAFE,
            f.to,
            f.value,
            f.data,
            f.operation,
            f.safe_tx_gas,
            f.base_gas,  # type: ignore[arg-type]
            f.gas_price,
            f.gas_token,
            f.refund_receiver,
            safe_nonce=f.nonce,
            safe_version=version,
            chain_id=137,
        ).safe_tx_hash
        assert ours.safe_tx_hash == bytes(theirs)


def test_signatures_are_encoded_in_ascending_owner_order_with_contract_data_last() -> None:
    low, high = (
        "0x00000000000000000000000000000000000000aa",
        "0xff000000000000000000000000000000000000bb",
    )
    eoa = SignatureCheck(high, SIG_EIP712, True, "", b"\x11" * 65)
    contract = SignatureCheck(low, SIG_CONTRACT, True, "", b"\x22" * 130)
    out = encode_signatures([eoa, contract])
    assert out[:32] == bytes(12) + bytes.fromhex(low[2:])
    assert int.from_bytes(out[32:64], "big") == 130  # data offset = 2 static words
    assert out[64] == 0
    assert out[65:130] == b"\x11" * 65
    assert int.from_bytes(out[130:162], "big") == 130 and out[162:] == b"\x22" * 130


def test_high_s_and_wrong_v_signatures_recover_to_nobody() -> None:
    acct = Account.create()
    digest = keccak(b"payout")
    sig = bytes(acct.unsafe_sign_hash(digest).signature)
    assert recover_eoa(digest, sig) == acct.address
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    malleated = r + (n - s).to_bytes(32, "big") + bytes([55 - v])
    assert recover_eoa(digest, malleated) is None
    assert recover_eoa(digest, sig[:64] + b"\x05") is None


def test_owner_safe_message_hash_matches_the_fallback_handler_formula() -> None:
    from eth_abi.abi import encode

    message = b"preimage of the parent SafeTx"
    domain = keccak(
        encode(
            ["bytes32", "uint256", "address"],
            [keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)"), 5, SAFE],
        )
    )
    struct = keccak(
        encode(["bytes32", "bytes32"], [keccak(text="SafeMessage(bytes message)"), keccak(message)])
    )
    assert safe_message_hash(SAFE, 5, message) == keccak(b"\x19\x01" + domain + struct)


def test_gs_codes_are_found_in_messages_and_revert_data() -> None:
    assert find_gs_code("execution reverted: GS026").code == "GS026"  # type: ignore[union-attr]
    from eth_abi.abi import encode

    data = bytes.fromhex("08c379a0") + encode(["string"], ["GS013"])
    assert decode_gs_revert(data) == GS_CODES["GS013"]
    assert find_gs_code("0x" + data.hex()) == GS_CODES["GS013"]
    assert decode_gs_revert(b"\x00" * 4) is None
    assert find_gs_code("out of gas") is None
    # Every code has a meaning and a hint.
    assert all(c.meaning and c.hint for c in GS_CODES.values())
    assert {"GS010", "GS013", "GS020", "GS024", "GS025", "GS026", "GS030"} <= set(GS_CODES)
