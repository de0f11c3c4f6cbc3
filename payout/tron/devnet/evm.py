"""Contract execution for the devnet: py-evm's Cancun interpreter priced with TRON's energy table.

TRON's virtual machine runs upstream solc bytecode, but meters it differently from Ethereum:

* a Frontier-like price list with no warm/cold accounting (EIP-2929): SLOAD 50, SSTORE 20,000 to
  set a zero slot and 5,000 otherwise (no refunds), BALANCE / EXTCODESIZE / EXTCODECOPY 20,
  EXTCODEHASH 400, EXP 10 + 10 per exponent byte, MLOAD / MSTORE / MSTORE8 1 + memory,
  CALLDATACOPY / CODECOPY / RETURNDATACOPY only memory + 3 per word, CALL family 40 (+9,000 with a
  value, +25,000 when that value creates an account), CREATE 32,000, SELFDESTRUCT 0;
* no 21,000 intrinsic cost, no calldata or initcode charges (bandwidth pays for bytes), no refunds;
* the Cancun opcodes TRON has activated stay available (PUSH0, TLOAD / TSTORE 100, MCOPY);
* a per-contract *energy factor* (units of 1/10,000): every opcode executed in that contract's frame
  costs ``energy * (10,000 + factor) // 10,000``; for calls and creates only the opcode's own part
  is raised, never the energy handed to the callee;
* 63/64 of the remaining energy at most is handed to a callee; the call depth limit is 64;
* GASPRICE, DIFFICULTY / PREVRANDAO and GASLIMIT read 0;
* CREATE2 addresses hash ``0x41 || sender || salt || keccak(init)``; CREATE addresses hash the
  root transaction id and an internal counter (java-tron's scheme, approximated).

Energy is gas here: the py-evm gas meter counts TRON energy units.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from eth import constants
from eth._utils.address import force_bytes_to_address
from eth._utils.numeric import ceil32
from eth.abc import ComputationAPI, MessageAPI, StateAPI, TransactionContextAPI
from eth.db.atomic import AtomicDB
from eth.exceptions import (
    FullStack,
    Halt,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfBoundsRead,
    OutOfGas,
    ReservedBytesInCode,
    Revert,
    VMError,
    WriteProtection,
)
from eth.vm import mnemonics, opcode_values
from eth.vm.computation import NO_RESULT
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.byzantium.opcodes import ensure_no_static
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.opcodes import CANCUN_OPCODES
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.logic import arithmetic, context, storage
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.message import Message
from eth.vm.opcode import Opcode, as_opcode
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.crypto import keccak

#: Energy factors are expressed in units of 1/10,000 (java-tron ``DYNAMIC_ENERGY_FACTOR_DECIMAL``).
FACTOR_DECIMAL = 10_000
#: java-tron refuses calls deeper than this.
MAX_CALL_DEPTH = 64
#: Energy a constant call (``triggerconstantcontract``) may use.
CONSTANT_CALL_ENERGY_LIMIT = 100_000_000

CALL_ENERGY = 40
VALUE_TRANSFER_ENERGY = 9_000
NEW_ACCOUNT_CALL_ENERGY = 25_000
CALL_STIPEND = 2_300
CREATE_ENERGY = 32_000
SHA3_WORD_ENERGY = 6
SET_SSTORE = 20_000
RESET_SSTORE = 5_000
CLEAR_SSTORE = 5_000


class TronState(CancunState):
    """py-evm state with the hooks TRON's metering needs.

    The node sets :attr:`account_exists_hook` (TRON's notion of an activated account, which decides
    the 25,000 new-account surcharge), :attr:`energy_factor_hook` and :attr:`root_txid` before each
    execution.
    """

    account_exists_hook: Callable[[bytes], bool]
    energy_factor_hook: Callable[[bytes], int]
    root_txid: bytes = b""
    internal_nonce: int = 0
    penalty_total: int = 0

    def set_system_contracts(self) -> None:
        """TRON has no beacon-root system contract."""


def new_state(execution_context: ExecutionContext) -> TronState:
    """An empty in-memory state."""
    state = TronState(AtomicDB(), execution_context, constants.BLANK_ROOT_HASH)
    state.account_exists_hook = lambda _addr: False
    state.energy_factor_hook = lambda _addr: 0
    return state


def execution_context(
    *,
    coinbase20: bytes,
    timestamp_ms: int,
    block_number: int,
    chain_id: int,
    prev_hashes: Sequence[bytes],
) -> ExecutionContext:
    """The block environment opcodes read (TIMESTAMP in seconds, DIFFICULTY and GASLIMIT zero)."""
    return ExecutionContext(
        coinbase=Address(coinbase20),
        timestamp=timestamp_ms // 1000,
        block_number=BlockNumber(block_number),
        difficulty=0,
        mix_hash=Hash32(b"\0" * 32),
        gas_limit=0,
        prev_hashes=[Hash32(h) for h in prev_hashes],
        chain_id=chain_id,
        base_fee_per_gas=0,
        excess_blob_gas=0,
    )


class TronComputation(CancunComputation):
    """One message frame metered in TRON energy (see the module docstring)."""

    #: Energy factor of the contract whose code runs in this frame.
    factor: int = 0
    #: Set by call/create opcodes that apply the factor to their own part themselves.
    op_penalized: bool = False
    current_op: str = ""
    op_start_remaining: int = 0

    def charge_penalty(self, energy: int) -> None:
        """Raise ``energy`` just spent by this frame's energy factor."""
        if self.factor <= 0 or energy <= 0:
            return
        penalty = energy * (FACTOR_DECIMAL + self.factor) // FACTOR_DECIMAL - energy
        if penalty > 0:
            self.consume_gas(penalty, reason=f"{self.current_op} energy factor")
            tron_state(self).penalty_total += penalty

    @classmethod
    def consume_initcode_gas_cost(cls, computation: ComputationAPI) -> None:
        """TRON charges bandwidth for init code bytes, not energy."""

    @classmethod
    def validate_create_message(cls, message: MessageAPI) -> None:
        """No EIP-3860 initcode size limit on TRON."""

    @classmethod
    def apply_computation(
        cls,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        with cls(state, message, transaction_context) as computation:
            if parent_computation is not None:
                computation.contracts_created = parent_computation.contracts_created
            elif computation.is_origin_computation:
                computation.contracts_created = []
            if message.is_create:
                computation.contracts_created.append(message.storage_address)

            precompile = computation.precompiles.get(message.code_address, NO_RESULT)
            if precompile is not NO_RESULT:
                precompile(computation)
                return computation

            comp = cast(TronComputation, computation)
            comp.factor = tron_state(comp).energy_factor_hook(bytes(message.code_address))
            meter = comp.get_gas_meter()
            lookup = comp.opcodes
            for opcode in comp.code:
                opcode_fn = lookup.get(opcode) or InvalidOpcode(opcode)
                comp.current_op = _mnemonic(opcode_fn, opcode)
                comp.op_start_remaining = meter.gas_remaining
                comp.op_penalized = False
                halted = False
                try:
                    opcode_fn(computation=comp)
                except Halt:
                    halted = True
                if comp.factor and not comp.op_penalized:
                    comp.charge_penalty(comp.op_start_remaining - meter.gas_remaining)
                if halted:
                    break
        return computation


def tron_state(computation: ComputationAPI) -> TronState:
    return cast(TronState, computation.state)


def _mnemonic(opcode_fn: Any, opcode: int) -> str:
    name = getattr(opcode_fn, "mnemonic", None)
    if name is None:
        wrapped = getattr(opcode_fn, "__wrapped__", None)
        name = getattr(wrapped, "mnemonic", None)
    return str(name) if name else f"0x{opcode:02x}"


# --- opcodes with TRON logic ---------------------------------------------------------------------


def _sstore(computation: ComputationAPI) -> None:
    slot, value = computation.stack_pop_ints(2)
    address = computation.msg.storage_address
    current = computation.state.get_storage(address=address, slot=slot)
    if current == 0 and value != 0:
        cost = SET_SSTORE
    elif current != 0 and value == 0:
        cost = CLEAR_SSTORE
    else:
        cost = RESET_SSTORE
    computation.consume_gas(cost, reason="SSTORE")
    computation.state.set_storage(address=address, slot=slot, value=value)


def _selfdestruct(computation: ComputationAPI) -> None:
    beneficiary = force_bytes_to_address(computation.stack_pop1_bytes())
    address = computation.msg.storage_address
    balance = computation.state.get_balance(address)
    if beneficiary != address:
        computation.state.delta_balance(beneficiary, balance)
        computation.state.delta_balance(address, -balance)
    if address in computation.contracts_created:
        computation.register_account_for_deletion(beneficiary)
    raise Halt("SELFDESTRUCT")


class TronCall(Opcode):
    """CALL / CALLCODE / DELEGATECALL / STATICCALL with TRON's prices and limits."""

    kind: str = "CALL"

    def __call__(self, computation: ComputationAPI) -> None:
        comp = cast(TronComputation, computation)
        kind = self.kind
        gas = comp.stack_pop1_int()
        target = force_bytes_to_address(comp.stack_pop1_bytes())
        value = comp.stack_pop1_int() if kind in ("CALL", "CALLCODE") else 0
        in_start, in_size, out_start, out_size = comp.stack_pop_ints(4)
        if kind == "CALL" and comp.msg.is_static and value:
            raise WriteProtection("Cannot modify state while inside of a STATICCALL context")

        cost = CALL_ENERGY
        if value:
            cost += VALUE_TRANSFER_ENERGY
            if kind == "CALL" and not tron_state(comp).account_exists_hook(bytes(target)):
                cost += NEW_ACCOUNT_CALL_ENERGY
        meter = comp.get_gas_meter()
        before = meter.gas_remaining
        comp.consume_gas(cost, reason=kind)
        comp.extend_memory(in_start, in_size)
        comp.extend_memory(out_start, out_size)
        comp.charge_penalty(before - meter.gas_remaining)
        comp.op_penalized = True

        remaining = meter.gas_remaining
        child_gas = min(gas, remaining - remaining // 64)
        comp.consume_gas(child_gas, reason=kind)
        child_msg_gas = child_gas + (CALL_STIPEND if value else 0)
        data = comp.memory_read_bytes(in_start, in_size)

        storage_address = comp.msg.storage_address
        kwargs: dict[str, Any] = {"is_static": comp.msg.is_static}
        if kind == "CALL":
            to, code_source, transfers = target, target, True
        elif kind == "CALLCODE":
            to, code_source, transfers = storage_address, target, True
            kwargs["code_address"] = target
        elif kind == "DELEGATECALL":
            to, code_source, transfers = storage_address, target, False
            kwargs["code_address"] = target
            kwargs["sender"] = comp.msg.sender
            value = comp.msg.value
        else:
            to, code_source, transfers = target, target, False
            kwargs["is_static"] = True

        insufficient = transfers and comp.state.get_balance(storage_address) < value
        too_deep = comp.msg.depth + 1 > MAX_CALL_DEPTH
        if insufficient or too_deep:
            comp.return_data = b""
            comp.return_gas(child_msg_gas)
            comp.stack_push_int(0)
            return

        child_msg = comp.prepare_child_message(
            gas=child_msg_gas,
            to=to,
            value=value,
            data=data,
            code=comp.state.get_code(code_source),
            should_transfer_value=transfers,
            **kwargs,
        )
        child = comp.apply_child_computation(child_msg)
        comp.stack_push_int(0 if child.is_error else 1)
        if not child.should_erase_return_data:
            size = min(out_size, len(child.output))
            comp.memory_write(out_start, size, child.output[:size])
        if child.should_return_gas:
            comp.return_gas(child.get_gas_remaining())


class TronCreate(Opcode):
    """CREATE / CREATE2 with TRON's address rules and no initcode charge."""

    salted: bool = False

    def __call__(self, computation: ComputationAPI) -> None:
        comp = cast(TronComputation, computation)
        if comp.msg.is_static:
            raise WriteProtection("Cannot modify state while inside of a STATICCALL context")
        value, start, size = comp.stack_pop_ints(3)
        salt = comp.stack_pop1_int() if self.salted else 0
        cost = CREATE_ENERGY + (SHA3_WORD_ENERGY * ceil32(size) // 32 if self.salted else 0)
        meter = comp.get_gas_meter()
        before = meter.gas_remaining
        comp.consume_gas(cost, reason=self.mnemonic)
        comp.extend_memory(start, size)
        comp.charge_penalty(before - meter.gas_remaining)
        comp.op_penalized = True

        sender = comp.msg.storage_address
        if comp.state.get_balance(sender) < value or comp.msg.depth + 1 > MAX_CALL_DEPTH:
            comp.return_data = b""
            comp.stack_push_int(0)
            return
        init_code = comp.memory_read_bytes(start, size)
        remaining = meter.gas_remaining
        child_gas = remaining - remaining // 64
        comp.consume_gas(child_gas, reason=self.mnemonic)

        state = tron_state(comp)
        if self.salted:
            address = create2_address(bytes(sender), salt.to_bytes(32, "big"), init_code)
        else:
            address = internal_create_address(state.root_txid, state.internal_nonce)
            state.internal_nonce += 1
        new_address = Address(address)
        if comp.state.has_code_or_nonce(new_address):
            comp.return_data = b""
            comp.stack_push_int(0)
            comp.return_gas(child_gas)
            return
        snapshot = comp.state.snapshot()
        comp.state.delete_storage(new_address)
        child_msg = comp.prepare_child_message(
            gas=child_gas,
            to=constants.CREATE_CONTRACT_ADDRESS,
            value=value,
            data=b"",
            code=init_code,
            create_address=new_address,
        )
        child = comp.apply_child_computation(child_msg)
        if child.is_error:
            comp.state.revert(snapshot)
            comp.stack_push_int(0)
        else:
            comp.state.commit(snapshot)
            comp.stack_push_bytes(new_address)
        comp.return_gas(child.get_gas_remaining())


def create2_address(sender20: bytes, salt: bytes, init_code: bytes) -> bytes:
    """TRON's CREATE2 rule: keccak(0x41 || sender || salt || keccak(init_code))[12:] (20 bytes)."""
    return keccak(b"\x41" + sender20[-20:] + salt + keccak(init_code))[12:]


def internal_create_address(root_txid: bytes, nonce: int) -> bytes:
    """Address of a contract made by CREATE: keccak(root txID || 8-byte counter)[12:]."""
    return keccak(root_txid + nonce.to_bytes(8, "big"))[12:]


def deploy_address(txid: bytes, owner21: bytes) -> bytes:
    """Address (21 bytes) of a contract deployed by a CreateSmartContract transaction."""
    return b"\x41" + keccak(txid + owner21)[12:]


def _reprice(opcode: int, gas_cost: int) -> Any:
    op = CANCUN_OPCODES[opcode]
    return as_opcode(logic_fn=op.logic_fn, mnemonic=op.mnemonic, gas_cost=gas_cost)  # type: ignore[attr-defined]


def _build_opcodes() -> dict[int, Any]:
    table: dict[int, Any] = copy.deepcopy(CANCUN_OPCODES)
    v = opcode_values
    table.update(
        {
            v.CALLDATACOPY: _reprice(v.CALLDATACOPY, 0),
            v.CODECOPY: _reprice(v.CODECOPY, 0),
            v.RETURNDATACOPY: _reprice(v.RETURNDATACOPY, 0),
            v.MLOAD: _reprice(v.MLOAD, 1),
            v.MSTORE: _reprice(v.MSTORE, 1),
            v.MSTORE8: _reprice(v.MSTORE8, 1),
            v.EXP: as_opcode(arithmetic.exp(gas_per_byte=10), mnemonics.EXP, 10),
            v.BALANCE: as_opcode(context.balance, mnemonics.BALANCE, 20),
            v.EXTCODESIZE: as_opcode(context.extcodesize, mnemonics.EXTCODESIZE, 20),
            v.EXTCODECOPY: as_opcode(context.extcodecopy, mnemonics.EXTCODECOPY, 20),
            v.EXTCODEHASH: as_opcode(context.extcodehash, mnemonics.EXTCODEHASH, 400),
            v.SLOAD: as_opcode(storage.sload, mnemonics.SLOAD, 50),
            v.SSTORE: as_opcode(ensure_no_static(_sstore), mnemonics.SSTORE, 0),
            v.SELFDESTRUCT: as_opcode(ensure_no_static(_selfdestruct), mnemonics.SELFDESTRUCT, 0),
            v.CALL: TronCall.configure(__name__="opcode:CALL", mnemonic="CALL", gas_cost=0)(),
            v.CALLCODE: TronCall.configure(
                __name__="opcode:CALLCODE", mnemonic="CALLCODE", gas_cost=0, kind="CALLCODE"
            )(),
            v.DELEGATECALL: TronCall.configure(
                __name__="opcode:DELEGATECALL",
                mnemonic="DELEGATECALL",
                gas_cost=0,
                kind="DELEGATECALL",
            )(),
            v.STATICCALL: TronCall.configure(
                __name__="opcode:STATICCALL", mnemonic="STATICCALL", gas_cost=0, kind="STATICCALL"
            )(),
            v.CREATE: TronCreate.configure(
                __name__="opcode:CREATE", mnemonic="CREATE", gas_cost=0
            )(),
            v.CREATE2: TronCreate.configure(
                __name__="opcode:CREATE2", mnemonic="CREATE2", gas_cost=0, salted=True
            )(),
        }
    )
    return table


TronComputation.opcodes = _build_opcodes()
# The point-evaluation precompile (0x0a) does not exist on TRON.
TronComputation._precompiles = {
    addr: fn
    for addr, fn in CancunComputation.get_precompiles().items()
    if int.from_bytes(addr, "big") <= 9
}
TronState.computation_class = TronComputation


# --- running a transaction -----------------------------------------------------------------------

#: py-evm error -> TRON ``contractResult`` name.
_RESULTS: tuple[tuple[type[VMError], str], ...] = (
    (Revert, "REVERT"),
    (OutOfGas, "OUT_OF_ENERGY"),
    (InvalidJumpDestination, "BAD_JUMP_DESTINATION"),
    (InsufficientStack, "STACK_TOO_SMALL"),
    (FullStack, "STACK_TOO_LARGE"),
    (InvalidInstruction, "ILLEGAL_OPERATION"),
    (WriteProtection, "ILLEGAL_OPERATION"),
    (ReservedBytesInCode, "INVALID_CODE"),
    (OutOfBoundsRead, "UNKNOWN"),
)


@dataclass
class ExecutionResult:
    """Outcome of one top-level contract execution."""

    result: str  # TRON contractResult name: SUCCESS, REVERT, OUT_OF_ENERGY, ...
    output: bytes
    energy_used: int
    energy_penalty: int
    message: str = ""
    logs: list[tuple[bytes, list[bytes], bytes]] = field(default_factory=list)
    created: list[bytes] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.result == "SUCCESS"


def _result_of(computation: ComputationAPI, energy_limit: int) -> ExecutionResult:
    comp = cast(TronComputation, computation)
    state = tron_state(comp)
    if comp.is_success:
        logs = [
            (bytes(addr), [t.to_bytes(32, "big") for t in topics], bytes(data))
            for addr, topics, data in comp.get_log_entries()
        ]
        created = [bytes(a) for a in comp.contracts_created if comp.state.get_code(a)]
        for doomed in comp.get_accounts_for_deletion():
            comp.state.delete_account(doomed)
        return ExecutionResult(
            "SUCCESS", comp.output, comp.get_gas_used(), state.penalty_total, "", logs, created
        )
    error = comp.error
    name = next((n for cls, n in _RESULTS if isinstance(error, cls)), "UNKNOWN")
    if name == "REVERT":
        message = "REVERT opcode executed"
        output = comp.output
    elif name == "OUT_OF_ENERGY":
        used = energy_limit - comp.op_start_remaining
        needed = _needed_from(str(error))
        message = (
            f"Not enough energy for '{comp.current_op}' operation executing: "
            f"curInvokeEnergyLimit[{energy_limit}], curOpEnergy[{needed}], usedEnergy[{used}]"
        )
        output = b""
    else:
        message = f"{type(error).__name__}: {error}"
        output = b""
    return ExecutionResult(name, output, comp.get_gas_used(), state.penalty_total, message)


def _needed_from(text: str) -> int:
    marker = "Needed "
    if marker in text:
        tail = text.split(marker, 1)[1].split(" ", 1)[0]
        if tail.isdigit():
            return int(tail)
    return 0


def _prepare(state: TronState, root_txid: bytes) -> None:
    state.root_txid = root_txid
    state.internal_nonce = 0
    state.penalty_total = 0
    state.clear_transient_storage()


def execute_call(
    state: TronState,
    *,
    caller20: bytes,
    contract20: bytes,
    data: bytes,
    value: int,
    energy_limit: int,
    root_txid: bytes,
) -> ExecutionResult:
    """Run a TriggerSmartContract; state changes stay (the caller snapshots if needed)."""
    _prepare(state, root_txid)
    message = Message(
        gas=energy_limit,
        to=Address(contract20),
        sender=Address(caller20),
        value=value,
        data=data,
        code=state.get_code(Address(contract20)),
    )
    tx_context = CancunTransactionContext(gas_price=0, origin=Address(caller20))
    computation = TronComputation.apply_message(state, message, tx_context)
    return _result_of(computation, energy_limit)


def execute_create(
    state: TronState,
    *,
    caller20: bytes,
    new_address20: bytes,
    init_code: bytes,
    value: int,
    energy_limit: int,
    root_txid: bytes,
) -> ExecutionResult:
    """Run a CreateSmartContract's init code at ``new_address20`` and store the runtime code."""
    _prepare(state, root_txid)
    message = Message(
        gas=energy_limit,
        to=constants.CREATE_CONTRACT_ADDRESS,
        sender=Address(caller20),
        value=value,
        data=b"",
        code=init_code,
        create_address=Address(new_address20),
    )
    tx_context = CancunTransactionContext(gas_price=0, origin=Address(caller20))
    computation = TronComputation.apply_create_message(state, message, tx_context)
    return _result_of(computation, energy_limit)
