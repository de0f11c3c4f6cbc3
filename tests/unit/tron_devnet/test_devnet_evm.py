"""TRON's energy schedule on the devnet's py-evm interpreter, opcode by opcode.

Each program's expected energy is summed by hand from TRON's price list (java-tron EnergyCost /
OperationRegistry), which differs from Ethereum's gas wherever a test says so.
"""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak

from payout.tron.devnet import evm

CALLER = bytes.fromhex("11" * 20)
TARGET = bytes.fromhex("22" * 20)
OTHER = bytes.fromhex("33" * 20)


def make_state(
    code: str, *, factor: int = 0, others: dict[bytes, str] | None = None
) -> evm.TronState:
    state = evm.new_state(
        evm.execution_context(
            coinbase20=b"\0" * 20,
            timestamp_ms=1_700_000_000_000,
            block_number=7,
            chain_id=0x2B6653DC,
            prev_hashes=[],
        )
    )
    state.set_code(TARGET, bytes.fromhex(code))
    state.set_balance(TARGET, 10**9)
    state.set_balance(CALLER, 10**9)
    for address, other_code in (others or {}).items():
        state.set_code(address, bytes.fromhex(other_code))
    known = {CALLER, TARGET, *(others or {})}
    state.account_exists_hook = lambda a: a in known
    state.energy_factor_hook = lambda a: factor if a == TARGET else 0
    return state


def run(state: evm.TronState, limit: int = 1_000_000, data: bytes = b"") -> evm.ExecutionResult:
    return evm.execute_call(
        state,
        caller20=CALLER,
        contract20=TARGET,
        data=data,
        value=0,
        energy_limit=limit,
        root_txid=b"\x01" * 32,
    )


@pytest.mark.parametrize(
    ("code", "energy"),
    [
        # PUSH1 1, PUSH1 0, SSTORE (zero -> non-zero: 20,000), STOP
        ("600160005500", 3 + 3 + 20_000),
        # PUSH1 0, SLOAD (50, Ethereum cold: 2,100), POP, STOP
        ("6000545000", 3 + 50 + 2),
        # ADDRESS, BALANCE (20, no warm/cold), POP
        ("30315000", 2 + 20 + 2),
        # PUSH1 1, PUSH1 0, MSTORE (1 + 3 memory; Ethereum 3 + 3)
        ("600160005200", 3 + 3 + 1 + 3),
        # PUSH2 0x0100 (exponent, 2 bytes), PUSH1 2, EXP (10 + 10 per byte; Ethereum 50 per byte)
        ("61010060020a5000", 3 + 3 + 10 + 20 + 2),
        # CALLDATACOPY 32 bytes: memory 3 + copy 3, no base cost (Ethereum adds 3)
        ("6020600060003700", 3 + 3 + 3 + 3 + 3),
        # PUSH0, PUSH0, TSTORE (100), PUSH0, TLOAD (100), POP: cancun opcodes stay available
        ("5f5f5d5f5c5000", 2 + 2 + 100 + 2 + 100 + 2),
        # EXTCODEHASH of self: 400 (Ethereum warm 100)
        ("303f5000", 2 + 400 + 2),
        # JUMPDEST costs 1
        ("5b00", 1),
    ],
)
def test_energy_schedule(code: str, energy: int) -> None:
    result = run(make_state(code))
    assert result.result == "SUCCESS"
    assert result.energy_used == energy


def test_sstore_reset_and_clear_cost_5000_without_refund() -> None:
    state = make_state("600160005500")
    assert run(state).energy_used == 20_006
    assert run(state).energy_used == 5_006  # non-zero -> same non-zero
    state.set_code(TARGET, bytes.fromhex("600060005500"))
    assert run(state).energy_used == 5_006  # non-zero -> zero, no refund


def test_energy_factor_raises_every_opcode_of_the_contract() -> None:
    # SLOAD program at factor 34,000 (x4.4): PUSH1 3 -> 13, SLOAD 50 -> 220, POP 2 -> 8.
    result = run(make_state("6000545000", factor=34_000))
    assert result.energy_used == 13 + 220 + 8
    assert result.energy_penalty == (13 + 220 + 8) - 55


def test_call_costs_40_and_the_callee_frame_has_its_own_factor() -> None:
    # PUSH1 0 x5 (out size/offset, in size/offset, value), PUSH20 OTHER, GAS, CALL, POP, STOP
    code = "6000" * 5 + "73" + OTHER.hex() + "5a" + "f1" + "50" + "00"
    callee = "6000545000"  # SLOAD in the callee: 55
    result = run(make_state(code, others={OTHER: callee}))
    assert result.energy_used == 15 + 3 + 2 + 40 + 55 + 2
    # A factor on the caller raises the caller's own opcodes, not the energy the callee spends.
    raised = run(make_state(code, factor=10_000, others={OTHER: callee}))
    assert raised.energy_used == 2 * (15 + 3 + 2 + 40 + 2) + 55


def test_value_call_to_a_new_account_costs_9000_plus_25000() -> None:
    fresh = bytes.fromhex("44" * 20)
    # out size/offset, in size/offset = 0, value = 1, PUSH20 fresh, GAS, CALL, POP
    code = "6000" * 4 + "6001" + "73" + fresh.hex() + "5a" + "f1" + "50" + "00"
    result = run(make_state(code))
    assert result.result == "SUCCESS"
    # The callee also gets the 2,300 stipend for free; it spends nothing, so all of it comes back.
    assert result.energy_used == 12 + 3 + 3 + 2 + 40 + 9_000 + 25_000 - 2_300 + 2


def test_callee_receives_at_most_63_64_of_the_remaining_energy() -> None:
    # Callee returns the GAS it sees; the caller forwards "all" (GAS) and returns the answer.
    callee = "5a60005260206000f3"
    code = "6020600060006000600073" + OTHER.hex() + "5af15060206000f3"
    limit = 100_000
    result = run(make_state(code, others={OTHER: callee}), limit=limit)
    seen = int.from_bytes(result.output, "big")
    before_call = limit - (3 * 5 + 3 + 2)
    after_cost = before_call - 40 - 3  # CALL base + one word of memory for the output
    assert seen == after_cost - after_cost // 64 - 2  # minus the callee's own GAS opcode


def test_gasprice_reads_zero() -> None:
    code = "3a60005260206000f3"  # GASPRICE, MSTORE at 0, RETURN 32 bytes
    assert run(make_state(code)).output == b"\0" * 32


def test_create2_uses_the_0x41_prefixed_rule() -> None:
    # CREATE2 value 0, offset 0, size 0, salt 0; MSTORE the address; RETURN 32 bytes.
    code = "6000" * 4 + "f5" + "60005260206000f3"
    result = run(make_state(code))
    created = result.output[-20:]
    expected = keccak(b"\x41" + TARGET + b"\0" * 32 + keccak(b""))[12:]
    assert created == expected == evm.create2_address(TARGET, b"\0" * 32, b"")


def test_out_of_energy_consumes_the_whole_limit() -> None:
    result = run(make_state("600160005500"), limit=20_005)
    assert result.result == "OUT_OF_ENERGY"
    assert result.energy_used == 20_005
    assert "SSTORE" in result.message


def test_revert_keeps_unused_energy_and_returns_data() -> None:
    # PUSH1 0x2a, PUSH1 0, MSTORE, REVERT(0, 32)
    result = run(make_state("602a60005260206000fd"))
    assert result.result == "REVERT"
    assert result.energy_used == 3 + 3 + 1 + 3 + 3 + 3
    assert int.from_bytes(result.output, "big") == 42


def test_invalid_opcode_is_an_illegal_operation() -> None:
    result = run(make_state("fe"), limit=1_000)
    assert result.result == "ILLEGAL_OPERATION"
    assert result.energy_used == 1_000
