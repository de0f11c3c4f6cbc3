"""The devnet's chain: validates, executes and records transactions the way java-tron does.

:class:`Chain` is transport-free (the HTTP layer is :mod:`payout.tron.devnet.server`). Every public
method takes and returns JSON-shaped dicts exactly as the full-node HTTP API does, so the server is
a thin router. All methods are serialized by one lock.

Checks on ``broadcasttransaction``, in java-tron's order: TaPoS reference block, size (500 KiB),
expiration window (after the head block, at most 24 h ahead), one contract per transaction,
duplicates, signatures against the owner / active permission (weights, threshold, operations bit,
distinct signers), then bandwidth, the multisig and memo fees, and the contract's own validation.
A refused transaction changes nothing; a contract that fails *while executing* (revert,
OUT_OF_ENERGY, ...) is still included in a block with its fee burned.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_typing import Address
from eth_utils.crypto import keccak

from payout.exceptions import TronDevnetError, TronDevnetRejection
from payout.tron import proto
from payout.tron.devnet import evm
from payout.tron.devnet.address import (
    AddressFormatError,
    address_of_private_key,
    from_evm,
    parse_address,
    sign_digest,
    to_base58,
    to_evm,
)
from payout.tron.devnet.permission import (
    MAX_ACTIVE_PERMISSIONS,
    MAX_PERMISSION_KEYS,
    PermissionProblem,
    check_permission,
    default_permissions,
    permission_from,
    signature_weight,
    validate_error,
    validate_permission,
)
from payout.tron.devnet.state import (
    SLOT_MS,
    Account,
    Block,
    ContractRecord,
    Log,
    Permission,
    Receipt,
    TxRecord,
    recovered,
)

SUN_PER_TRX = 1_000_000
#: Reply bytes reserved per contract when bandwidth is computed (java-tron MAX_RESULT_SIZE_IN_TX).
RESULT_BYTES_PER_CONTRACT = 64
BLOCK_VERSION = 32


@dataclass(frozen=True)
class ChainConfig:
    """Chain parameters (defaults follow TRON mainnet, 2025)."""

    energy_price_sun: int = 100
    bandwidth_price_sun: int = 1_000
    free_net_limit: int = 600
    create_account_fee_sun: int = 100_000
    create_account_system_fee_sun: int = 1_000_000
    multisig_fee_sun: int = 1_000_000
    permission_update_fee_sun: int = 100 * SUN_PER_TRX
    memo_fee_sun: int = 1_000_000
    max_fee_limit_sun: int = 15_000 * SUN_PER_TRX
    max_tx_bytes: int = 500 * 1024
    max_expiration_ms: int = 24 * 3600 * 1000
    #: Staking is simplified to fixed ratios (mainnet shares a global pool among all stakers).
    energy_per_staked_trx: int = 10
    bandwidth_per_staked_trx: int = 1
    chain_id: int = 0x2B6653DC
    #: Block time in interval mode.
    block_interval_ms: int = 3_000


@dataclass(frozen=True)
class GenesisAccount:
    """An account funded in the genesis block."""

    address: bytes  # 21 bytes
    balance_sun: int


#: Raised inside a transaction to refuse it: (java-tron response code, node message).
Rejection = TronDevnetRejection


def _reject(code: str, message: str) -> TronDevnetRejection:
    return TronDevnetRejection(code, message)


@dataclass
class _OpenBlock:
    number: int
    timestamp: int
    txids: list[bytes] = field(default_factory=list)


class Chain:
    """In-memory TRON chain with java-tron's HTTP semantics (see the module docstring)."""

    def __init__(
        self,
        *,
        genesis: list[GenesisAccount],
        witness_key: bytes,
        faucet_key: bytes | None = None,
        config: ChainConfig | None = None,
        instant: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or ChainConfig()
        self.instant = instant
        self._clock = clock
        self._lock = threading.RLock()
        self.time_offset_ms = 0
        self.witness = address_of_private_key(witness_key)
        self._faucet_key = faucet_key
        self.faucet_address = address_of_private_key(faucet_key) if faucet_key else None

        self.accounts: dict[bytes, Account] = {}
        self.contracts: dict[bytes, ContractRecord] = {}
        self.blocks: list[Block] = []
        self.txs: dict[bytes, TxRecord] = {}
        self._recent: dict[bytes, bytes] = {}
        self._open: _OpenBlock | None = None

        genesis_ts = self.now_ms()
        self.evm_state = evm.new_state(self._context(0, genesis_ts))
        self.evm_state.account_exists_hook = self._evm_account_exists
        self.evm_state.energy_factor_hook = self._energy_factor_of
        for entry in genesis:
            self._create_account(entry.address, genesis_ts)
            self.evm_state.set_balance(Address(to_evm(entry.address)), entry.balance_sun)
        self.evm_state.persist()
        self._append_block(0, genesis_ts, b"\0" * 32, [])

    # --- time and blocks -------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self._clock() * 1000) + self.time_offset_ms

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    def _context(self, number: int, timestamp: int) -> Any:
        prev = [b.id for b in reversed(self.blocks[-256:])] if self.blocks else []
        return evm.execution_context(
            coinbase20=to_evm(self.witness),
            timestamp_ms=timestamp,
            block_number=number,
            chain_id=self.config.chain_id,
            prev_hashes=prev,
        )

    def _next_timestamp(self) -> int:
        head = self.head.timestamp
        if self.instant:
            return max(self.now_ms(), head + 1)
        return max(head + self.config.block_interval_ms, self.now_ms())

    def _head_time(self) -> int:
        """Head block time for the expiration window.

        A mainnet head is never more than a slot old; an idle instant-mode node's head can be hours
        old, so the window is measured from where a 3-second chain would be by now.
        """
        head = self.head.timestamp
        if self.instant:
            return max(head, self.now_ms() - self.config.block_interval_ms)
        return head

    def _open_block(self) -> _OpenBlock:
        """The block pending transactions go into (its time is refreshed while it is empty)."""
        if self._open is None:
            self._open = _OpenBlock(self.head.number + 1, self._next_timestamp())
        elif not self._open.txids:
            self._open.timestamp = self._next_timestamp()
        self.evm_state.execution_context = self._context(self._open.number, self._open.timestamp)
        return self._open

    def _use_next_block_context(self) -> None:
        """Point the EVM at the next block without opening it (for calls that keep nothing)."""
        if self._open is not None:
            number, timestamp = self._open.number, self._open.timestamp
        else:
            number, timestamp = self.head.number + 1, self._next_timestamp()
        self.evm_state.execution_context = self._context(number, timestamp)

    def _append_block(
        self, number: int, timestamp: int, parent: bytes, txids: list[bytes]
    ) -> Block:
        tx_root = hashlib.sha256(b"".join(txids)).digest() if txids else b"\0" * 32
        header = {
            "timestamp": timestamp,
            "txTrieRoot": tx_root,
            "parentHash": parent,
            "number": number,
            "witness_address": self.witness,
            "version": BLOCK_VERSION,
        }
        block_id = proto.block_id(number, proto.encode("BlockHeaderRaw", header))
        block = Block(number, timestamp, parent, self.witness, txids, header, block_id)
        self.blocks.append(block)
        self._recent[number.to_bytes(8, "big")[6:8]] = block_id[8:16]
        for txid in txids:
            record = self.txs[txid]
            record.block_number = number
            record.block_timestamp = timestamp
        return block

    def seal_block(self) -> Block:
        """Close the open block (or produce an empty one) and make it the head."""
        with self._lock:
            opened = self._open or _OpenBlock(self.head.number + 1, self._next_timestamp())
            self._open = None
            timestamp = max(opened.timestamp, self.head.timestamp + 1)
            block = self._append_block(opened.number, timestamp, self.head.id, opened.txids)
            self.evm_state.persist()
            return block

    def mine(self, count: int = 1) -> Block:
        """Produce ``count`` blocks (pending transactions go into the first)."""
        if count < 1:
            raise TronDevnetError("mine needs a positive block count")
        with self._lock:
            block = self.head
            for _ in range(count):
                block = self.seal_block()
            return block

    def advance_time(self, ms: int) -> Block:
        """Move the node's clock forward by ``ms`` and produce a block at the new time."""
        if ms < 0:
            raise TronDevnetError("time only moves forward")
        with self._lock:
            self.time_offset_ms += ms
            if self._open is not None:
                self._open.timestamp = max(self._open.timestamp, self.now_ms())
            return self.seal_block()

    # --- accounts --------------------------------------------------------------------------------

    def _create_account(self, address: bytes, now: int, *, is_contract: bool = False) -> Account:
        owner, actives = default_permissions(address)
        account = Account(address, now, owner, actives, is_contract=is_contract)
        self.accounts[address] = account
        return account

    def balance(self, address: bytes) -> int:
        """TRX balance in sun."""
        with self._lock:
            return int(self.evm_state.get_balance(Address(to_evm(address))))

    def _add_balance(self, address: bytes, delta: int) -> None:
        self.evm_state.delta_balance(Address(to_evm(address)), delta)

    def account(self, address: bytes) -> Account | None:
        """The account record, activating addresses that received TRX inside a contract call."""
        found = self.accounts.get(address)
        if found is None and (self.balance(address) > 0):
            found = self._create_account(address, self.head.timestamp)
        return found

    def _evm_account_exists(self, address20: bytes) -> bool:
        address = from_evm(address20)
        return address in self.accounts or self.balance(address) > 0

    def _energy_factor_of(self, address20: bytes) -> int:
        record = self.contracts.get(from_evm(address20))
        return record.energy_factor if record else 0

    def _slot(self) -> int:
        return self._open_block().timestamp // SLOT_MS

    def _energy_capacity(self, account: Account) -> int:
        return account.energy.frozen_sun // SUN_PER_TRX * self.config.energy_per_staked_trx

    def _net_capacity(self, account: Account) -> int:
        return account.bandwidth.frozen_sun // SUN_PER_TRX * self.config.bandwidth_per_staked_trx

    def energy_left(self, account: Account, slot: int) -> int:
        return max(0, self._energy_capacity(account) - account.energy.usage_at(slot))

    # --- transactions ----------------------------------------------------------------------------

    def broadcast(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/broadcasttransaction``."""
        visible = bool(payload.get("visible"))
        try:
            raw = proto.raw_from_json(payload.get("raw_data") or {}, visible=visible)
            signatures = [proto.parse_hex(str(s)) for s in payload.get("signature") or []]
        except (proto.ProtoError, AddressFormatError) as exc:
            return {"Error": f"class org.tron.core.exception.BadItemException : {exc}"}
        raw_bytes = proto.encode("TransactionRaw", raw)
        txid = proto.raw_txid(raw_bytes)
        with self._lock:
            try:
                self._accept(raw, raw_bytes, txid, signatures)
            except TronDevnetRejection as rejected:
                message = rejected.node_message
                return {
                    "code": rejected.code,
                    "message": message if visible else message.encode().hex(),
                    "txid": txid.hex(),
                }
            if self.instant:
                self.seal_block()
        return {"result": True, "txid": txid.hex()}

    def _accept(
        self, raw: dict[str, Any], raw_bytes: bytes, txid: bytes, sigs: list[bytes]
    ) -> None:
        self._check_tapos(raw)
        size = len(proto.transaction_bytes(raw_bytes, sigs))
        if size > self.config.max_tx_bytes:
            raise _reject("TOO_BIG_TRANSACTION_ERROR", "Transaction size is too big.")
        expiration = int(raw.get("expiration", 0))
        head_time = self._head_time()
        if expiration <= head_time or expiration > head_time + self.config.max_expiration_ms:
            raise _reject("TRANSACTION_EXPIRATION_ERROR", "Transaction expired")
        if len(raw.get("contract") or []) != 1:
            raise validate_error("tx contract size should be exactly 1, this is extend feature")
        if txid in self.txs:
            raise _reject("DUP_TRANSACTION_ERROR", "Dup transaction.")
        try:
            type_name, param, contract = proto.contract_parameter(raw)
        except proto.ProtoError as exc:
            raise validate_error(str(exc)) from exc
        try:
            self._check_signatures(txid, sigs, type_name, param, contract)
        except PermissionProblem as exc:
            raise _reject("SIGERROR", f"Validate signature error: {exc}") from exc

        block = self._open_block()
        snapshot = self.evm_state.snapshot()
        saved_accounts = copy.deepcopy(self.accounts)
        saved_contracts = dict(self.contracts)
        try:
            record = self._execute(raw, raw_bytes, txid, sigs, type_name, param, size)
        except TronDevnetRejection:
            self.evm_state.revert(snapshot)
            self.accounts = saved_accounts
            self.contracts = saved_contracts
            raise
        self.evm_state.commit(snapshot)
        self.txs[txid] = record
        block.txids.append(txid)

    def _check_tapos(self, raw: Mapping[str, Any]) -> None:
        ref_bytes = bytes(raw.get("ref_block_bytes", b""))
        ref_hash = bytes(raw.get("ref_block_hash", b""))
        if self._recent.get(ref_bytes) != ref_hash:
            raise _reject("TAPOS_ERROR", "Tapos check error.")

    # --- signatures and permissions --------------------------------------------------------------

    def _permission_for(self, owner: bytes, permission_id: int) -> Permission | None:
        account = self.account(owner)
        if account is not None:
            return account.permission(permission_id)
        owner_perm, actives = default_permissions(owner)
        if permission_id == 0:
            return owner_perm
        if permission_id == 2:
            return actives[0]
        return None

    def _check_signatures(
        self,
        txid: bytes,
        sigs: list[bytes],
        type_name: str,
        param: Mapping[str, Any],
        contract: Mapping[str, Any],
    ) -> None:
        if not sigs:
            raise PermissionProblem("miss sig or contract")
        if len(sigs) > MAX_PERMISSION_KEYS:
            raise PermissionProblem("too many signatures")
        owner = _owner_of(param)
        permission_id = int(contract.get("Permission_id", 0))
        type_number = proto.ENUMS["ContractType"][type_name]
        permission = check_permission(
            self._permission_for(owner, permission_id), permission_id, type_number
        )
        weight, _ = signature_weight(permission, txid, sigs)
        if weight < permission.threshold:
            raise PermissionProblem("sig error")

    def sign_weight(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/getsignweight``: the txID, the permission and the weight signed so far."""
        visible = bool(payload.get("visible"))
        try:
            raw = proto.raw_from_json(payload.get("raw_data") or {}, visible=visible)
            sigs = [proto.parse_hex(str(s)) for s in payload.get("signature") or []]
        except (proto.ProtoError, AddressFormatError) as exc:
            return {"Error": f"class org.tron.core.exception.BadItemException : {exc}"}
        raw_bytes = proto.encode("TransactionRaw", raw)
        txid = proto.raw_txid(raw_bytes)
        reply: dict[str, Any] = {}
        result: dict[str, Any] = {}
        with self._lock:
            try:
                type_name, param, contract = proto.contract_parameter(raw)
                owner = _owner_of(param)
                if self.account(owner) is None:
                    raise PermissionProblem("Account does not exist!")
                permission_id = int(contract.get("Permission_id", 0))
                permission = check_permission(
                    self._permission_for(owner, permission_id),
                    permission_id,
                    proto.ENUMS["ContractType"][type_name],
                )
                reply["permission"] = proto.to_json(
                    "Permission", permission.to_message(), visible=visible
                )
                weight = 0
                if sigs:
                    weight, approved = signature_weight(permission, txid, sigs)
                    reply["approved_list"] = [
                        to_base58(a) if visible else a.hex() for a in approved
                    ]
                    if weight:
                        reply["current_weight"] = weight
                if weight < permission.threshold:
                    result["code"] = "NOT_ENOUGH_PERMISSION"
            except PermissionProblem as exc:
                result = {"code": "PERMISSION_ERROR", "message": _msg(str(exc), visible)}
            except proto.ProtoError as exc:
                result = {"code": "OTHER_ERROR", "message": _msg(str(exc), visible)}
        reply["result"] = result
        reply["transaction"] = {
            "result": {"result": True},
            "txid": txid.hex(),
            "transaction": self._tx_json(raw, raw_bytes, txid, sigs, visible),
        }
        return reply

    # --- execution -------------------------------------------------------------------------------

    def _execute(
        self,
        raw: Mapping[str, Any],
        raw_bytes: bytes,
        txid: bytes,
        sigs: list[bytes],
        type_name: str,
        param: dict[str, Any],
        size: int,
    ) -> TxRecord:
        owner = _owner_of(param)
        account = self.account(owner)
        if account is None:
            raise validate_error("account does not exist")
        slot = self._slot()
        receipt = Receipt()
        creates_account = type_name in ("TransferContract", "TransferAssetContract") and (
            self.account(_address_field(param, "to_address")) is None
        )
        self._charge_bandwidth(
            account, size + RESULT_BYTES_PER_CONTRACT, creates_account, slot, receipt
        )
        fee = receipt.net_fee
        if len(sigs) > 1:
            fee += self._burn(
                account, self.config.multisig_fee_sun, "insufficient balance to multiSign"
            )
        if raw.get("data"):
            fee += self._burn(
                account, self.config.memo_fee_sun, "insufficient balance for memo fee"
            )
        record = TxRecord(
            txid=txid,
            raw=dict(raw),
            raw_bytes=raw_bytes,
            signatures=list(sigs),
            contract_type=type_name,
            receipt=receipt,
            fee=fee,
        )
        handler = _HANDLERS.get(type_name)
        if handler is None:
            raise validate_error(f"{type_name} is not supported by the devnet")
        handler(self, record, account, param, int(raw.get("fee_limit", 0)), slot)
        record.fee += receipt.energy_fee
        return record

    def _burn(self, account: Account, amount: int, why: str) -> int:
        if amount <= 0:
            return 0
        if self.balance(account.address) < amount:
            raise _reject("BANDWITH_ERROR", f"Account resource insufficient error. ({why})")
        self._add_balance(account.address, -amount)
        return amount

    def _charge_bandwidth(
        self, account: Account, size: int, creates_account: bool, slot: int, receipt: Receipt
    ) -> None:
        staked_left = self._net_capacity(account) - account.bandwidth.usage_at(slot)
        if creates_account:
            if size <= staked_left:
                account.bandwidth.consume(size, slot)
                receipt.net_usage = size
                return
            receipt.net_fee = self._burn(
                account,
                self.config.create_account_fee_sun,
                "insufficient bandwidth and balance to create a new account",
            )
            return
        if size <= staked_left:
            account.bandwidth.consume(size, slot)
            receipt.net_usage = size
            return
        free_used = recovered(account.free_net_usage, account.free_net_last_slot, slot)
        if size <= self.config.free_net_limit - free_used:
            account.free_net_usage = free_used + size
            account.free_net_last_slot = slot
            receipt.net_usage = size
            return
        receipt.net_fee = self._burn(
            account,
            size * self.config.bandwidth_price_sun,
            f"insufficient bandwidth[{size}] and balance to pay for it",
        )

    def _check_fee_limit(self, fee_limit: int) -> None:
        if fee_limit < 0 or fee_limit > self.config.max_fee_limit_sun:
            raise validate_error(f"feeLimit must be >= 0 and <= {self.config.max_fee_limit_sun}")

    def _caller_energy_limit(
        self, account: Account, spendable: int, fee_limit: int, slot: int
    ) -> int:
        price = self.config.energy_price_sun
        available = self.energy_left(account, slot) + max(0, spendable) // price
        return min(available, fee_limit // price)

    def _energy_limit(
        self,
        caller: Account,
        contract: ContractRecord | None,
        fee_limit: int,
        call_value: int,
        slot: int,
    ) -> int:
        spendable = self.balance(caller.address) - call_value
        caller_limit = self._caller_energy_limit(caller, spendable, fee_limit, slot)
        if contract is None or contract.origin == caller.address:
            return caller_limit
        origin = self.account(contract.origin)
        if origin is None:
            return caller_limit
        creator_limit = min(self.energy_left(origin, slot), contract.origin_energy_limit)
        percent = contract.consume_user_resource_percent
        if creator_limit * percent > (100 - percent) * caller_limit:
            return caller_limit * 100 // percent
        return caller_limit + creator_limit

    def _pay_energy(
        self,
        caller: Account,
        contract: ContractRecord | None,
        used: int,
        slot: int,
        receipt: Receipt,
    ) -> None:
        origin_used = 0
        if contract is not None and contract.origin != caller.address:
            origin = self.account(contract.origin)
            percent = contract.consume_user_resource_percent
            if origin is not None and percent < 100:
                share = used * (100 - percent) // 100
                origin_used = min(
                    share, self.energy_left(origin, slot), contract.origin_energy_limit
                )
                origin.energy.consume(origin_used, slot)
        caller_part = used - origin_used
        staked = min(caller_part, self.energy_left(caller, slot))
        if staked:
            caller.energy.consume(staked, slot)
        burned = (caller_part - staked) * self.config.energy_price_sun
        burned = min(burned, self.balance(caller.address))
        self._add_balance(caller.address, -burned)
        receipt.energy_usage = staked
        receipt.energy_fee = burned
        receipt.origin_energy_usage = origin_used
        receipt.energy_usage_total = used
        if contract is not None:
            contract.energy_usage += used

    def _record_execution(self, record: TxRecord, result: evm.ExecutionResult) -> None:
        record.receipt.result = result.result
        record.receipt.energy_penalty_total = result.energy_penalty
        record.contract_result = result.output
        record.contract_ret = result.result
        record.logs = [Log(addr, topics, data) for addr, topics, data in result.logs]
        if not result.success:
            record.failed = True
            record.res_message = result.message

    def _transfer(
        self, record: TxRecord, account: Account, param: dict[str, Any], fee_limit: int, slot: int
    ) -> None:
        to = _address_field(param, "to_address")
        amount = int(param.get("amount", 0))
        if to == account.address:
            raise validate_error("Cannot transfer TRX to yourself.")
        if amount <= 0:
            raise validate_error("Amount must be greater than 0.")
        target = self.account(to)
        fee = 0
        if target is None:
            fee = self.config.create_account_system_fee_sun
        elif target.is_contract:
            raise validate_error("Cannot transfer TRX to a smartContract.")
        if self.balance(account.address) < amount + fee:
            raise validate_error("Validate TransferContract error, balance is not sufficient.")
        if target is None:
            self._create_account(to, self._open_block().timestamp)
        self._add_balance(account.address, -(amount + fee))
        self._add_balance(to, amount)
        record.fee += fee

    def _transfer_asset(
        self, record: TxRecord, account: Account, param: dict[str, Any], fee_limit: int, slot: int
    ) -> None:
        raise validate_error("No asset!")

    def _trigger(
        self, record: TxRecord, account: Account, param: dict[str, Any], fee_limit: int, slot: int
    ) -> None:
        contract_address = _address_field(param, "contract_address")
        contract = self.contracts.get(contract_address)
        if contract is None:
            raise validate_error("No contract or not a valid smart contract")
        call_value = int(param.get("call_value", 0))
        if call_value < 0:
            raise validate_error("callValue must be >= 0")
        if int(param.get("call_token_value", 0)) or int(param.get("token_id", 0)):
            raise validate_error("No asset !")
        if self.balance(account.address) < call_value:
            raise validate_error("validateForSmartContract failure, not enough balance")
        self._check_fee_limit(fee_limit)
        limit = self._energy_limit(account, contract, fee_limit, call_value, slot)
        result = evm.execute_call(
            self.evm_state,
            caller20=to_evm(account.address),
            contract20=to_evm(contract_address),
            data=bytes(param.get("data", b"")),
            value=call_value,
            energy_limit=limit,
            root_txid=record.txid,
        )
        self._pay_energy(account, contract, result.energy_used, slot, record.receipt)
        self._record_execution(record, result)
        record.contract_address = contract_address
        if result.success:
            self._register_created(result.created, account.address, record.txid)

    def _create(
        self, record: TxRecord, account: Account, param: dict[str, Any], fee_limit: int, slot: int
    ) -> None:
        new = param.get("new_contract")
        if new is None:
            raise validate_error("Cannot get CreateSmartContract.")
        origin = bytes(new.get("origin_address", b""))
        if origin != account.address:
            raise validate_error("OwnerAddress is not equals OriginAddress")
        name = str(new.get("name", ""))
        if len(name.encode()) > 32:
            raise validate_error("contractName's length cannot be greater than 32")
        percent = int(new.get("consume_user_resource_percent", 0))
        if not 0 <= percent <= 100:
            raise validate_error("percent must be >= 0 and <= 100")
        origin_energy_limit = int(new.get("origin_energy_limit", 0))
        if origin_energy_limit <= 0:
            raise validate_error("The originEnergyLimit must be > 0")
        call_value = int(new.get("call_value", 0))
        if call_value < 0 or self.balance(account.address) < call_value:
            raise validate_error("no enough balance for call value")
        self._check_fee_limit(fee_limit)
        address = evm.deploy_address(record.txid, account.address)
        if address in self.contracts or self.evm_state.get_code(Address(to_evm(address))):
            raise validate_error(
                f"Trying to create a contract with existing contract address: {to_base58(address)}"
            )
        limit = self._energy_limit(account, None, fee_limit, call_value, slot)
        init_code = bytes(new.get("bytecode", b""))
        result = evm.execute_create(
            self.evm_state,
            caller20=to_evm(account.address),
            new_address20=to_evm(address),
            init_code=init_code,
            value=call_value,
            energy_limit=limit,
            root_txid=record.txid,
        )
        self._pay_energy(account, None, result.energy_used, slot, record.receipt)
        self._record_execution(record, result)
        record.contract_address = address
        if result.success:
            runtime = bytes(self.evm_state.get_code(Address(to_evm(address))))
            self.contracts[address] = ContractRecord(
                address=address,
                origin=account.address,
                abi=dict(new.get("abi") or {}),
                bytecode=init_code,
                name=name,
                consume_user_resource_percent=percent,
                origin_energy_limit=origin_energy_limit,
                trx_hash=record.txid,
                code_hash=keccak(runtime),
            )
            self._create_account(address, self._open_block().timestamp, is_contract=True)
            others = [a for a in result.created if from_evm(a) != address]
            self._register_created(others, account.address, record.txid)

    def _register_created(self, created: list[bytes], origin: bytes, txid: bytes) -> None:
        for address20 in created:
            address = from_evm(address20)
            if address in self.contracts:
                continue
            runtime = bytes(self.evm_state.get_code(Address(address20)))
            self.contracts[address] = ContractRecord(
                address=address,
                origin=origin,
                abi={},
                bytecode=b"",
                name="",
                consume_user_resource_percent=100,
                origin_energy_limit=1,
                trx_hash=txid,
                code_hash=keccak(runtime),
            )
            self._create_account(address, self._open_block().timestamp, is_contract=True)

    def _permission_update(
        self, record: TxRecord, account: Account, param: dict[str, Any], fee_limit: int, slot: int
    ) -> None:
        if account.is_contract:
            raise validate_error("account is a contract")
        owner_msg = param.get("owner")
        if owner_msg is None:
            raise validate_error("owner permission is missed")
        if param.get("witness") is not None:
            raise validate_error("account isn't witness can't set witness permission")
        actives_msg = param.get("actives") or []
        if not actives_msg:
            raise validate_error("active permission is missed")
        if len(actives_msg) > MAX_ACTIVE_PERMISSIONS:
            raise validate_error("active permission is too many")
        owner = permission_from(owner_msg, 0)
        if owner.type != 0:
            raise validate_error("owner permission type is error")
        validate_permission(owner)
        actives: list[Permission] = []
        for index, msg in enumerate(actives_msg):
            active = permission_from(msg, 2 + index)
            if active.type != 2:
                raise validate_error("active permission type is error")
            validate_permission(active)
            actives.append(active)
        fee = self.config.permission_update_fee_sun
        if self.balance(account.address) < fee:
            raise validate_error("balance is not sufficient")
        self._add_balance(account.address, -fee)
        record.fee += fee
        account.owner = owner
        account.actives = actives

    def _freeze(
        self, record: TxRecord, account: Account, param: dict[str, Any], fee_limit: int, slot: int
    ) -> None:
        amount = int(param.get("frozen_balance", 0))
        if amount < SUN_PER_TRX:
            raise validate_error("frozenBalance must be greater than or equal to 1 TRX")
        if amount > self.balance(account.address):
            raise validate_error("frozenBalance must be less than or equal to accountBalance")
        resource = int(param.get("resource", 0))
        if resource not in (0, 1):
            raise validate_error("ResourceCode error, valid ResourceCode[BANDWIDTH、ENERGY]")
        self._add_balance(account.address, -amount)
        target = account.energy if resource == 1 else account.bandwidth
        target.frozen_sun += amount

    def _unfreeze(
        self, record: TxRecord, account: Account, param: dict[str, Any], fee_limit: int, slot: int
    ) -> None:
        amount = int(param.get("unfreeze_balance", 0))
        resource = int(param.get("resource", 0))
        target = account.energy if resource == 1 else account.bandwidth
        if amount <= 0 or amount > target.frozen_sun:
            raise validate_error(f"Invalid unfreeze_balance, [{amount}] is error")
        target.frozen_sun -= amount
        self._add_balance(account.address, amount)

    # --- constant calls and estimates ------------------------------------------------------------

    def _call_request(self, payload: Mapping[str, Any]) -> tuple[bytes, bytes, bytes, int]:
        owner_text = payload.get("owner_address")
        owner = parse_address(owner_text) if owner_text else b"\x41" + b"\0" * 20
        contract = parse_address(payload.get("contract_address"))
        if payload.get("data"):
            data = proto.parse_hex(str(payload["data"]))
        else:
            selector = str(payload.get("function_selector") or "")
            data = keccak(selector.encode())[:4] if selector else b""
            data += proto.parse_hex(str(payload.get("parameter") or ""))
        return owner, contract, data, int(payload.get("call_value") or 0)

    def _simulate(
        self, owner: bytes, contract: bytes, data: bytes, value: int, limit: int
    ) -> evm.ExecutionResult:
        self._use_next_block_context()
        snapshot = self.evm_state.snapshot()
        try:
            if value and self.balance(owner) < value:
                raise validate_error("balance is not sufficient")
            return evm.execute_call(
                self.evm_state,
                caller20=to_evm(owner),
                contract20=to_evm(contract),
                data=data,
                value=value,
                energy_limit=limit,
                root_txid=b"\0" * 32,
            )
        finally:
            self.evm_state.revert(snapshot)

    def trigger_constant(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/triggerconstantcontract``: run a call, keep nothing."""
        visible = bool(payload.get("visible"))
        with self._lock:
            try:
                owner, contract, data, value = self._call_request(payload)
                if contract not in self.contracts:
                    raise validate_error("No contract or not a valid smart contract")
                result = self._simulate(
                    owner, contract, data, value, evm.CONSTANT_CALL_ENERGY_LIMIT
                )
            except TronDevnetRejection as exc:
                return {"result": {"code": exc.code, "message": _msg(exc.node_message, visible)}}
            except (AddressFormatError, proto.ProtoError, ValueError) as exc:
                return {"result": {"code": "OTHER_ERROR", "message": _msg(str(exc), visible)}}
            reply: dict[str, Any] = {"result": {"result": True}}
            if result.result == "REVERT":
                reply["result"]["message"] = _msg("REVERT opcode executed", visible)
            elif not result.success:
                return {
                    "result": {
                        "code": "OTHER_ERROR",
                        "message": _msg(f"{result.result}: {result.message}", visible),
                    },
                    "energy_used": result.energy_used,
                }
            reply["energy_used"] = result.energy_used
            if result.energy_penalty:
                reply["energy_penalty"] = result.energy_penalty
            reply["constant_result"] = [result.output.hex()]
            raw = self._build_raw(
                "TriggerSmartContract",
                {
                    "owner_address": owner,
                    "contract_address": contract,
                    "data": data,
                    "call_value": value,
                },
            )
            raw_bytes = proto.encode("TransactionRaw", raw)
            txid = proto.raw_txid(raw_bytes)
            reply["transaction"] = {
                "ret": [{}],
                "visible": visible,
                **self._tx_json(raw, raw_bytes, txid, [], visible),
            }
            return reply

    def estimate_energy(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/estimateenergy``: the smallest energy limit under which the call succeeds."""
        visible = bool(payload.get("visible"))
        with self._lock:
            try:
                owner, contract, data, value = self._call_request(payload)
                if contract not in self.contracts:
                    raise validate_error("No contract or not a valid smart contract")
                top = evm.CONSTANT_CALL_ENERGY_LIMIT
                first = self._simulate(owner, contract, data, value, top)
                if not first.success:
                    detail = "REVERT opcode executed" if first.result == "REVERT" else first.message
                    return {"result": {"code": "OTHER_ERROR", "message": _msg(detail, visible)}}
                low = self._minimal_energy(owner, contract, data, value, first.energy_used)
                return {"result": {"result": True}, "energy_required": low}
            except TronDevnetRejection as exc:
                return {"result": {"code": exc.code, "message": _msg(exc.node_message, visible)}}
            except (AddressFormatError, proto.ProtoError, ValueError) as exc:
                return {"result": {"code": "OTHER_ERROR", "message": _msg(str(exc), visible)}}

    def _minimal_energy(
        self, owner: bytes, contract: bytes, data: bytes, value: int, used: int
    ) -> int:
        """Smallest limit that succeeds: ``used`` unless nested calls need their 63/64 headroom.

        Like java-tron this is a search by re-execution; it stops at 0.1 % precision, rounding up.
        """

        def succeeds(limit: int) -> bool:
            return self._simulate(owner, contract, data, value, limit).success

        if succeeds(used):
            return used
        low, high = used, used + max(1, used // 32)
        while not succeeds(high):
            low, high = high, min(evm.CONSTANT_CALL_ENERGY_LIMIT, high + 2 * (high - low))
        while high - low > max(1, high // 1000):
            middle = (low + high) // 2
            if succeeds(middle):
                high = middle
            else:
                low = middle
        return high

    # --- server-side builders --------------------------------------------------------------------

    def _build_raw(
        self,
        type_name: str,
        param: dict[str, Any],
        *,
        fee_limit: int = 0,
        permission_id: int = 0,
        memo: bytes = b"",
    ) -> dict[str, Any]:
        head = self.head
        contract: dict[str, Any] = {
            "type": proto.ENUMS["ContractType"][type_name],
            "parameter": {
                "type_url": proto.TYPE_URL_PREFIX + type_name,
                "value": proto.encode(proto.PARAMETER_SCHEMAS[type_name], param),
            },
        }
        if permission_id:
            contract["Permission_id"] = permission_id
        raw: dict[str, Any] = {
            "ref_block_bytes": head.number.to_bytes(8, "big")[6:8],
            "ref_block_hash": head.id[8:16],
            "expiration": head.timestamp + 60_000,
            "contract": [contract],
            "timestamp": self.now_ms(),
        }
        if memo:
            raw["data"] = memo
        if fee_limit:
            raw["fee_limit"] = fee_limit
        return raw

    def build(self, type_name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/createtransaction`` and friends: an unsigned transaction from parameters."""
        visible = bool(payload.get("visible"))
        with self._lock:
            try:
                schema = proto.PARAMETER_SCHEMAS[type_name]
                param = proto.from_json(schema, payload, visible=visible)
                memo = proto.parse_hex(str(payload.get("extra_data") or ""))
                raw = self._build_raw(
                    type_name,
                    param,
                    fee_limit=int(payload.get("fee_limit") or 0),
                    permission_id=int(payload.get("Permission_id") or 0),
                    memo=memo,
                )
            except (proto.ProtoError, AddressFormatError, ValueError) as exc:
                return {"Error": f"class java.lang.IllegalArgumentException : {exc}"}
            raw_bytes = proto.encode("TransactionRaw", raw)
            txid = proto.raw_txid(raw_bytes)
            tx = {"visible": visible, **self._tx_json(raw, raw_bytes, txid, [], visible)}
            if type_name == "TriggerSmartContract":
                return {"result": {"result": True}, "transaction": tx}
            if type_name == "CreateSmartContract":
                address = evm.deploy_address(txid, _owner_of(param))
                tx["contract_address"] = to_base58(address) if visible else address.hex()
            return tx

    def build_deploy(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/deploycontract``: flat parameters -> CreateSmartContract."""
        abi = payload.get("abi")
        if isinstance(abi, str):
            import json

            abi = json.loads(abi) if abi else []
        entries = abi.get("entrys", []) if isinstance(abi, Mapping) else (abi or [])
        new_contract = {
            "origin_address": payload.get("owner_address"),
            "abi": {"entrys": entries},
            "bytecode": str(payload.get("bytecode") or "") + str(payload.get("parameter") or ""),
            "call_value": payload.get("call_value") or 0,
            "name": payload.get("name") or "",
            "consume_user_resource_percent": payload.get("consume_user_resource_percent", 100),
            "origin_energy_limit": payload.get("origin_energy_limit") or 10_000_000,
        }
        request = {
            "owner_address": payload.get("owner_address"),
            "new_contract": new_contract,
            "visible": payload.get("visible", False),
            "fee_limit": payload.get("fee_limit") or 0,
            "Permission_id": payload.get("Permission_id") or 0,
        }
        return self.build("CreateSmartContract", request)

    # --- development helpers ---------------------------------------------------------------------

    def faucet(self, address: bytes, amount_sun: int) -> str:
        """Send ``amount_sun`` from the genesis faucet account (a real, signed TransferContract)."""
        if self._faucet_key is None or self.faucet_address is None:
            raise TronDevnetError("this node has no faucet account")
        if amount_sun <= 0:
            raise TronDevnetError("faucet amount must be positive (in sun)")
        with self._lock:
            raw = self._build_raw(
                "TransferContract",
                {"owner_address": self.faucet_address, "to_address": address, "amount": amount_sun},
            )
            raw_bytes = proto.encode("TransactionRaw", raw)
            txid = proto.raw_txid(raw_bytes)
            signature = sign_digest(self._faucet_key, txid)
            self._accept(raw, raw_bytes, txid, [signature])
            if self.instant:
                self.seal_block()
            return txid.hex()

    def set_energy_factor(self, contract: bytes, energy_factor: int) -> None:
        """Set a contract's dynamic energy factor (1/10,000 units: 34,000 means x4.4)."""
        if energy_factor < 0:
            raise TronDevnetError("energy factor cannot be negative")
        with self._lock:
            record = self.contracts.get(contract)
            if record is None:
                raise TronDevnetError(f"no contract at {to_base58(contract)}")
            record.energy_factor = energy_factor

    def stake(self, address: bytes, *, energy_sun: int = 0, bandwidth_sun: int = 0) -> None:
        """Give an account staked TRX without a transaction (development shortcut)."""
        with self._lock:
            account = self.account(address)
            if account is None:
                raise TronDevnetError(f"account {to_base58(address)} does not exist")
            account.energy.frozen_sun += energy_sun
            account.bandwidth.frozen_sun += bandwidth_sun

    # --- queries ---------------------------------------------------------------------------------

    def _tx_json(
        self,
        raw: Mapping[str, Any],
        raw_bytes: bytes,
        txid: bytes,
        sigs: list[bytes],
        visible: bool,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "txID": txid.hex(),
            "raw_data": proto.to_json("TransactionRaw", raw, visible=visible),
            "raw_data_hex": raw_bytes.hex(),
        }
        if sigs:
            out["signature"] = [s.hex() for s in sigs]
        return out

    def _find_tx(self, payload: Mapping[str, Any]) -> TxRecord | None:
        value = str(payload.get("value") or "")
        try:
            txid = bytes.fromhex(value)
        except ValueError:
            return None
        record = self.txs.get(txid)
        if record is None or record.block_number is None:
            return None
        return record

    def transaction(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/gettransactionbyid``."""
        visible = bool(payload.get("visible"))
        with self._lock:
            record = self._find_tx(payload)
            if record is None:
                return {}
            ret: dict[str, Any] = {"contractRet": record.contract_ret}
            return {
                "ret": [ret],
                "signature": [s.hex() for s in record.signatures],
                **self._tx_json(record.raw, record.raw_bytes, record.txid, [], visible),
            }

    def transaction_info(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/gettransactioninfobyid`` (also served as ``walletsolidity/``)."""
        visible = bool(payload.get("visible"))
        with self._lock:
            record = self._find_tx(payload)
            if record is None:
                return {}
            return self._info_json(record, visible)

    def _info_json(self, record: TxRecord, visible: bool) -> dict[str, Any]:
        info: dict[str, Any] = {"id": record.txid.hex()}
        if record.fee:
            info["fee"] = record.fee
        info["blockNumber"] = record.block_number
        info["blockTimeStamp"] = record.block_timestamp
        info["contractResult"] = [record.contract_result.hex()]
        if record.contract_address is not None:
            info["contract_address"] = _addr(record.contract_address, visible)
        receipt = record.receipt
        rendered: dict[str, Any] = {}
        for name in (
            "energy_usage",
            "energy_fee",
            "origin_energy_usage",
            "energy_usage_total",
            "net_usage",
            "net_fee",
        ):
            value = getattr(receipt, name)
            if value:
                rendered[name] = value
        if receipt.result:
            rendered["result"] = receipt.result
        if receipt.energy_penalty_total:
            rendered["energy_penalty_total"] = receipt.energy_penalty_total
        info["receipt"] = rendered
        if record.logs:
            info["log"] = [
                {
                    "address": to_base58(from_evm(log.address)) if visible else log.address.hex(),
                    "topics": [t.hex() for t in log.topics],
                    "data": log.data.hex(),
                }
                for log in record.logs
            ]
        if record.failed:
            info["result"] = "FAILED"
            info["resMessage"] = record.res_message.encode().hex()
        return info

    def account_json(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/getaccount``; ``{}`` for an address that was never activated."""
        visible = bool(payload.get("visible"))
        with self._lock:
            try:
                address = parse_address(payload.get("address"))
            except AddressFormatError:
                return {}
            account = self.account(address)
            if account is None:
                return {}
            slot = self.head.timestamp // SLOT_MS
            out: dict[str, Any] = {"address": _addr(address, visible)}
            balance = self.balance(address)
            if balance:
                out["balance"] = balance
            if account.is_contract:
                out["type"] = "Contract"
            out["create_time"] = account.create_time
            net_usage = account.bandwidth.usage_at(slot)
            if net_usage:
                out["net_usage"] = net_usage
            free = recovered(account.free_net_usage, account.free_net_last_slot, slot)
            if free:
                out["free_net_usage"] = free
                out["latest_consume_free_time"] = account.free_net_last_slot * SLOT_MS
            resource: dict[str, Any] = {}
            energy_usage = account.energy.usage_at(slot)
            if energy_usage:
                resource["energy_usage"] = energy_usage
                resource["latest_consume_time_for_energy"] = account.energy.last_slot * SLOT_MS
            out["account_resource"] = resource
            out["owner_permission"] = proto.to_json(
                "Permission", account.owner.to_message(), visible=visible
            )
            if account.witness is not None:
                out["witness_permission"] = proto.to_json(
                    "Permission", account.witness.to_message(), visible=visible
                )
            out["active_permission"] = [
                proto.to_json("Permission", p.to_message(), visible=visible)
                for p in account.actives
            ]
            frozen: list[dict[str, Any]] = [{}, {"type": "ENERGY"}, {"type": "TRON_POWER"}]
            if account.bandwidth.frozen_sun:
                frozen[0]["amount"] = account.bandwidth.frozen_sun
            if account.energy.frozen_sun:
                frozen[1]["amount"] = account.energy.frozen_sun
            out["frozenV2"] = frozen
            return out

    def account_resource(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/getaccountresource``."""
        with self._lock:
            try:
                address = parse_address(payload.get("address"))
            except AddressFormatError:
                return {}
            account = self.account(address)
            if account is None:
                return {}
            slot = self.head.timestamp // SLOT_MS
            out: dict[str, Any] = {"freeNetLimit": self.config.free_net_limit}
            free = recovered(account.free_net_usage, account.free_net_last_slot, slot)
            if free:
                out["freeNetUsed"] = free
            net_limit = self._net_capacity(account)
            if net_limit:
                out["NetLimit"] = net_limit
            net_used = account.bandwidth.usage_at(slot)
            if net_used:
                out["NetUsed"] = net_used
            out["TotalNetLimit"] = 43_200_000_000
            out["TotalNetWeight"] = 1
            energy_limit = self._energy_capacity(account)
            if energy_limit:
                out["EnergyLimit"] = energy_limit
            energy_used = account.energy.usage_at(slot)
            if energy_used:
                out["EnergyUsed"] = energy_used
            out["TotalEnergyLimit"] = 180_000_000_000
            out["TotalEnergyWeight"] = 1
            return out

    def account_net(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/getaccountnet``."""
        resource = self.account_resource(payload)
        return {k: v for k, v in resource.items() if "Net" in k or k.startswith("freeNet")}

    def _contract_at(self, payload: Mapping[str, Any]) -> ContractRecord | None:
        """The contract at ``payload["value"]``, or None (no contract, malformed address)."""
        try:
            address = parse_address(payload.get("value"))
        except AddressFormatError:
            return None
        return self.contracts.get(address)

    def contract_json(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/getcontract``; ``{}`` when there is no contract at the address."""
        visible = bool(payload.get("visible"))
        with self._lock:
            record = self._contract_at(payload)
            if record is None:
                return {}
            return proto.to_json("SmartContract", record.to_message(), visible=visible)

    def contract_info(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``wallet/getcontractinfo``: the contract, its runtime code and energy factor."""
        visible = bool(payload.get("visible"))
        with self._lock:
            record = self._contract_at(payload)
            if record is None:
                return {}
            state: dict[str, Any] = {}
            if record.energy_usage:
                state["energy_usage"] = record.energy_usage
            if record.energy_factor:
                state["energy_factor"] = record.energy_factor
            state["update_cycle"] = self.head.timestamp // (6 * 3600 * 1000)
            return {
                "smart_contract": proto.to_json(
                    "SmartContract", record.to_message(), visible=visible
                ),
                "runtimecode": bytes(
                    self.evm_state.get_code(Address(to_evm(record.address)))
                ).hex(),
                "contract_state": state,
            }

    def _block_json(self, block: Block, visible: bool, detail: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "blockID": block.id_hex,
            "block_header": {
                "raw_data": proto.to_json("BlockHeaderRaw", block.header_raw, visible=visible),
                "witness_signature": "",
            },
        }
        if detail and block.txids:
            out["transactions"] = [
                {
                    "ret": [{"contractRet": self.txs[t].contract_ret}],
                    "signature": [s.hex() for s in self.txs[t].signatures],
                    **self._tx_json(self.txs[t].raw, self.txs[t].raw_bytes, t, [], visible),
                }
                for t in block.txids
            ]
        return out

    def block_json(self, payload: Mapping[str, Any], how: str) -> dict[str, Any]:
        """``getnowblock`` / ``getblockbynum`` / ``getblockbyid``."""
        visible = bool(payload.get("visible"))
        with self._lock:
            if how == "now":
                return self._block_json(self.head, visible)
            if how == "num":
                number = int(payload.get("num") or 0)
                if 0 <= number < len(self.blocks):
                    return self._block_json(self.blocks[number], visible)
                return {}
            value = str(payload.get("value") or "")
            for block in reversed(self.blocks):
                if block.id_hex == value.lower():
                    return self._block_json(block, visible)
            return {}

    def node_info(self) -> dict[str, Any]:
        """``wallet/getnodeinfo`` (the solid block is the head: blocks are final at once)."""
        with self._lock:
            head = self.head
            block = f"Num:{head.number},ID:{head.id_hex}"
            return {
                "beginSyncNum": head.number,
                "block": block,
                "solidityBlock": block,
                "currentConnectCount": 0,
                "activeConnectCount": 0,
                "passiveConnectCount": 0,
                "totalFlow": 0,
                "peerInfoList": [],
                "configNodeInfo": {
                    "codeVersion": "payout-devnet",
                    "p2pVersion": "0",
                    "listenPort": 0,
                    "discoverEnable": False,
                },
                "machineInfo": {},
                "cheatWitnessInfoMap": {},
            }

    def chain_parameters(self) -> dict[str, Any]:
        """``wallet/getchainparameters``."""
        c = self.config
        values = [
            ("getMaintenanceTimeInterval", 21_600_000),
            ("getAccountUpgradeCost", 9_999_000_000),
            ("getCreateAccountFee", c.create_account_fee_sun),
            ("getTransactionFee", c.bandwidth_price_sun),
            ("getAssetIssueFee", 1_024_000_000),
            ("getWitnessPayPerBlock", 8_000_000),
            ("getWitnessStandbyAllowance", 115_200_000_000),
            ("getCreateNewAccountFeeInSystemContract", c.create_account_system_fee_sun),
            ("getCreateNewAccountBandwidthRate", 1),
            ("getAllowCreationOfContracts", 1),
            ("getRemoveThePowerOfTheGr", -1),
            ("getEnergyFee", c.energy_price_sun),
            ("getExchangeCreateFee", 1_024_000_000),
            ("getMaxCpuTimeOfOneTx", 80),
            ("getAllowUpdateAccountName", 0),
            ("getAllowSameTokenName", 1),
            ("getAllowDelegateResource", 1),
            ("getTotalEnergyLimit", 180_000_000_000),
            ("getAllowTvmTransferTrc10", 1),
            ("getTotalEnergyCurrentLimit", 180_000_000_000),
            ("getAllowMultiSign", 1),
            ("getAllowAdaptiveEnergy", 0),
            ("getUpdateAccountPermissionFee", c.permission_update_fee_sun),
            ("getMultiSignFee", c.multisig_fee_sun),
            ("getAllowProtoFilterNum", 0),
            ("getAllowAccountStateRoot", 0),
            ("getAllowTvmConstantinople", 1),
            ("getAllowTvmSolidity059", 1),
            ("getAllowTvmIstanbul", 1),
            ("getAllowTvmLondon", 1),
            ("getAllowTvmCompatibleEvm", 1),
            ("getAllowHigherLimitForMaxCpuTimeOfOneTx", 1),
            ("getFreeNetLimit", c.free_net_limit),
            ("getTotalNetLimit", 43_200_000_000),
            ("getAllowTvmFreezeV2", 1),
            ("getUnfreezeDelayDays", 14),
            ("getAllowDynamicEnergy", 1),
            ("getDynamicEnergyThreshold", 5_000_000_000),
            ("getDynamicEnergyIncreaseFactor", 2_000),
            ("getDynamicEnergyMaxFactor", 34_000),
            ("getAllowTvmShangHai", 1),
            ("getAllowTvmCancun", 1),
            ("getMemoFee", c.memo_fee_sun),
            ("getMaxFeeLimit", c.max_fee_limit_sun),
        ]
        return {
            "chainParameter": [
                {"key": key, "value": value} if value else {"key": key} for key, value in values
            ]
        }


def _msg(text: str, visible: bool) -> str:
    """``Return.message`` is text when ``visible`` is set, hex otherwise (java-tron)."""
    return text if visible else text.encode().hex()


def _addr(address: bytes, visible: bool) -> str:
    return to_base58(address) if visible else address.hex()


def _owner_of(param: Mapping[str, Any]) -> bytes:
    owner = bytes(param.get("owner_address", b""))
    if len(owner) != 21 or owner[0] != 0x41:
        raise validate_error("Invalid ownerAddress!")
    return owner


def _address_field(param: Mapping[str, Any], name: str) -> bytes:
    value = bytes(param.get(name, b""))
    if len(value) != 21 or value[0] != 0x41:
        raise validate_error(f"Invalid {name}!")
    return value


_Handler = Callable[[Chain, TxRecord, Account, dict[str, Any], int, int], None]
_HANDLERS: dict[str, _Handler] = {
    "TransferContract": Chain._transfer,
    "TransferAssetContract": Chain._transfer_asset,
    "TriggerSmartContract": Chain._trigger,
    "CreateSmartContract": Chain._create,
    "AccountPermissionUpdateContract": Chain._permission_update,
    "FreezeBalanceV2Contract": Chain._freeze,
    "UnfreezeBalanceV2Contract": Chain._unfreeze,
}
