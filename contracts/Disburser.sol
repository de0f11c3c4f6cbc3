// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDisburser} from "./interfaces/IDisburser.sol";

/// @title Disburser
/// @notice Pays many recipients of one ERC-20/TRC-20 token (or of the native coin) in one
///         transaction, from the caller's own funds. No owner, no upgrade path, no fee; the contract
///         never keeps funds after a call.
/// @dev Recipients are packed one 32-byte word each: `uint256(uint160(recipient)) << 96 | amount`.
///
///      Strict mode (`disburse`): pull the declared total from the payer with one `transferFrom`, then
///      `transfer` each amount. Delivery is proven by the disburser's own token balance, never by
///      return values, so tokens that return nothing (USDT on Ethereum) or return false on success
///      (USDT on TRON) work, and a token that returns false without moving funds is caught:
///        - right after the pull the balance must have grown by exactly `total` (catches
///          fee-on-transfer tokens and silent transferFrom failures);
///        - after the loop it must be back where it started (catches a transfer that reported success
///          without moving funds, or that took more than asked).
///      Limitation: a token that charges a fee only on `transfer` and takes it from the amount the
///      recipient receives (not from the sender) cannot be detected without a balanceOf call per
///      recipient; `disburseOrSkip` does not detect it either. No common stablecoin does that.
///
///      Skip mode (`disburseOrSkip`): same pull, then one transfer and one balanceOf per recipient;
///      a transfer that moved nothing is skipped (event), and the skipped sum goes back to the payer.
///
///      Native mode (`disburseNative`): one call with value per recipient, excess refunded.
///
///      Every mode marks (payer, batchId) as executed before any external call, and refuses
///      re-entry through a transient-storage lock.
contract Disburser is IDisburser {
    /// @dev payer => batch id => executed.
    mapping(address => mapping(bytes32 => bool)) private _executed;

    /// @dev Re-entrancy lock (EIP-1153 transient storage, cancun; live on TRON since 2025-06).
    bool private transient _locked;

    /// @dev Low 12 bytes of a packed word: the amount.
    uint256 private constant _AMOUNT_MASK = 0xffffffffffffffffffffffff;
    /// @dev The largest packed word whose recipient is the zero address (amount = 2^96 - 1).
    uint256 private constant _LAST_ZERO_RECIPIENT_WORD = 0xffffffffffffffffffffffff;
    /// @dev "No index": no zero recipient, no failed transfer; also the `TransferFailed` index of
    ///      the pull of the total from the payer.
    uint256 private constant _NONE = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;
    uint256 private constant _PULL_INDEX = _NONE;

    modifier nonReentrant() {
        if (_locked) revert Reentered();
        _locked = true;
        _;
        // Cleared explicitly so that several batches in one transaction (e.g. a Safe MultiSend) work.
        _locked = false;
    }

    // ----------------------------------------------------------------------------------------------
    // Batches
    // ----------------------------------------------------------------------------------------------

    /// @inheritdoc IDisburser
    function disburse(address token, bytes32 batchId, uint256 total, bytes32[] calldata packed)
        external
        nonReentrant
    {
        uint256 n = packed.length;
        _begin(batchId, n);
        if (token.code.length == 0) revert TokenHasNoCode(token);
        uint256 base = _pull(token, total);

        uint256 failedIndex = _transferAll(token, packed);
        if (failedIndex != _NONE) {
            bytes memory reason = _returnData();
            // Input errors explain a failed transfer better (e.g. amounts above the total).
            _requireWellFormed(packed, total);
            revert TransferFailed(failedIndex, reason);
        }
        // The balance proof also proves the total: the pull added exactly `total`, so the
        // balance is back at `base` only if the transfers moved exactly `total` out. Amounts that
        // do not add up to it land here, and get the more precise error.
        uint256 left = _selfBalance(token);
        if (left != base) {
            _requireWellFormed(packed, total);
            revert BalanceMismatch(base, left);
        }
        emit BatchDisbursed(msg.sender, token, batchId, n, total);
    }

    /// @inheritdoc IDisburser
    function disburseOrSkip(address token, bytes32 batchId, uint256 total, bytes32[] calldata packed)
        external
        nonReentrant
        returns (uint256 paid)
    {
        uint256 n = packed.length;
        _begin(batchId, n);
        if (token.code.length == 0) revert TokenHasNoCode(token);
        // Malformed input is refused before anything moves: skipping is for transfer failures only.
        _requireWellFormed(packed, total);
        uint256 base = _pull(token, total);

        (uint256 skippedSum, uint256 skippedCount) = _transferOrSkipAll(token, packed, base + total);
        // Safe: the skipped amounts are part of the well-formed total.
        unchecked {
            paid = total - skippedSum;
        }
        if (skippedSum != 0) {
            _transfer(token, msg.sender, skippedSum);
            uint256 left = _selfBalance(token);
            // Still holding the skipped sum (base + skippedSum): the refund moved nothing.
            if (left == base + skippedSum) revert RefundFailed();
            if (left != base) revert BalanceMismatch(base, left);
        }
        uint256 count;
        // Safe: at most n recipients are skipped.
        unchecked {
            count = n - skippedCount;
        }
        emit BatchDisbursed(msg.sender, token, batchId, count, paid);
    }

    /// @inheritdoc IDisburser
    function disburseNative(bytes32 batchId, bytes32[] calldata packed) external payable nonReentrant {
        uint256 n = packed.length;
        _begin(batchId, n);

        (uint256 sum, uint256 failedIndex) = _sendAll(packed);
        if (failedIndex != _NONE || sum > msg.value) {
            (uint256 fullSum, uint256 zeroAt) = _scan(packed);
            if (zeroAt != _NONE) revert ZeroRecipient(zeroAt);
            if (fullSum > msg.value) revert InsufficientValue(fullSum, msg.value);
            revert TransferFailed(failedIndex, _returnData());
        }

        uint256 excess;
        // Safe: sum <= msg.value was checked just above.
        unchecked {
            excess = msg.value - sum;
        }
        if (excess != 0) {
            (bool ok,) = msg.sender.call{value: excess}("");
            if (!ok) revert RefundFailed();
        }
        emit BatchDisbursed(msg.sender, address(0), batchId, n, sum);
    }

    /// @inheritdoc IDisburser
    function executed(address payer, bytes32 batchId) external view returns (bool) {
        return _executed[payer][batchId];
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    /// @dev Refuses empty batches and replays, and marks the batch executed before any external call.
    function _begin(bytes32 batchId, uint256 n) private {
        if (n == 0) revert EmptyBatch();
        mapping(bytes32 => bool) storage done = _executed[msg.sender];
        if (done[batchId]) revert BatchAlreadyExecuted(msg.sender, batchId);
        done[batchId] = true;
    }

    /// @dev Strict-mode loop: `token.transfer` to every recipient, stopping at the first call that
    ///      reverts or has a zero recipient (its index is `failedIndex`, else `_NONE`).
    function _transferAll(address token, bytes32[] calldata packed) private returns (uint256 failedIndex) {
        // Why assembly: this loop is the per-recipient cost (~25,600 gas are the token's own; the
        // loop's own share is ~86). It reads each word straight from calldata and builds the
        // `transfer(address,uint256)` call in scratch memory with two stores.
        // Memory: [0x00,0x04) selector, [0x04,0x10) zero padding, [0x10,0x24) recipient (the word's
        // high 20 bytes land there when the word is stored at 0x10), [0x24,0x44) amount. That
        // overwrites the high 4 bytes of the free memory pointer (0x40), restored right after.
        // Return data is ignored on purpose (balance accounting decides): only a revert or a zero
        // recipient stops the loop; the zero-recipient test rides on the call's result.
        // Unrolled by 8 (leading n mod 8 recipients one at a time) so that the loop test and
        // jump are paid once per 8 recipients; a failure leaves `p` on the failing word.
        // No arithmetic can overflow: p and end are calldata offsets (< 2^64).
        assembly {
            let fmp := mload(0x40)
            mstore(0x00, shl(224, 0xa9059cbb)) // transfer(address,uint256), zeroes [0x04,0x20)
            let p := packed.offset
            let end := add(p, shl(5, packed.length))
            let groups := add(p, shl(5, and(packed.length, 7)))
            for {} lt(p, groups) { p := add(p, 0x20) } {
                {
                    let w := calldataload(p)
                    mstore(0x10, w)
                    mstore(0x24, and(w, _AMOUNT_MASK))
                    if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                        break
                    }
                }
            }
            // Skipped when a leading recipient failed (p stopped before `groups`).
            if eq(p, groups) {
                for {} lt(p, end) { p := add(p, 0x100) } {
                    {
                        let w := calldataload(p)
                        mstore(0x10, w)
                        mstore(0x24, and(w, _AMOUNT_MASK))
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                            break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0x20))
                        mstore(0x10, w)
                        mstore(0x24, and(w, _AMOUNT_MASK))
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                            p := add(p, 0x20)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0x40))
                        mstore(0x10, w)
                        mstore(0x24, and(w, _AMOUNT_MASK))
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                            p := add(p, 0x40)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0x60))
                        mstore(0x10, w)
                        mstore(0x24, and(w, _AMOUNT_MASK))
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                            p := add(p, 0x60)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0x80))
                        mstore(0x10, w)
                        mstore(0x24, and(w, _AMOUNT_MASK))
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                            p := add(p, 0x80)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0xa0))
                        mstore(0x10, w)
                        mstore(0x24, and(w, _AMOUNT_MASK))
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                            p := add(p, 0xa0)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0xc0))
                        mstore(0x10, w)
                        mstore(0x24, and(w, _AMOUNT_MASK))
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                            p := add(p, 0xc0)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0xe0))
                        mstore(0x10, w)
                        mstore(0x24, and(w, _AMOUNT_MASK))
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))) {
                            p := add(p, 0xe0)
                        break
                        }
                    }
                }
            }
            mstore(0x40, fmp)
            failedIndex := _NONE
            if lt(p, end) { failedIndex := shr(5, sub(p, packed.offset)) }
        }
    }

    /// @dev Native-mode loop: one value call per recipient, stopping at the first failure.
    function _sendAll(bytes32[] calldata packed) private returns (uint256 sum, uint256 failedIndex) {
        // Why assembly: same tight loop as `_transferAll` (unrolled by 8 the same way), no memory
        // used. Safe arithmetic: each amount < 2^96 and n < 2^64, so `sum` < 2^160. The contract
        // only holds msg.value (it has no receive function), so amounts above it make a call fail.
        assembly {
            let p := packed.offset
            let end := add(p, shl(5, packed.length))
            let groups := add(p, shl(5, and(packed.length, 7)))
            for {} lt(p, groups) { p := add(p, 0x20) } {
                {
                    let w := calldataload(p)
                    let a := and(w, _AMOUNT_MASK)
                    sum := add(sum, a)
                    if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                        break
                    }
                }
            }
            if eq(p, groups) {
                for {} lt(p, end) { p := add(p, 0x100) } {
                    {
                        let w := calldataload(p)
                        let a := and(w, _AMOUNT_MASK)
                        sum := add(sum, a)
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                            break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0x20))
                        let a := and(w, _AMOUNT_MASK)
                        sum := add(sum, a)
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                            p := add(p, 0x20)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0x40))
                        let a := and(w, _AMOUNT_MASK)
                        sum := add(sum, a)
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                            p := add(p, 0x40)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0x60))
                        let a := and(w, _AMOUNT_MASK)
                        sum := add(sum, a)
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                            p := add(p, 0x60)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0x80))
                        let a := and(w, _AMOUNT_MASK)
                        sum := add(sum, a)
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                            p := add(p, 0x80)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0xa0))
                        let a := and(w, _AMOUNT_MASK)
                        sum := add(sum, a)
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                            p := add(p, 0xa0)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0xc0))
                        let a := and(w, _AMOUNT_MASK)
                        sum := add(sum, a)
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                            p := add(p, 0xc0)
                        break
                        }
                    }
                    {
                        let w := calldataload(add(p, 0xe0))
                        let a := and(w, _AMOUNT_MASK)
                        sum := add(sum, a)
                        if iszero(and(gt(w, _LAST_ZERO_RECIPIENT_WORD), call(gas(), shr(96, w), a, 0x00, 0x00, 0x00, 0x00))) {
                            p := add(p, 0xe0)
                        break
                        }
                    }
                }
            }
            failedIndex := _NONE
            if lt(p, end) { failedIndex := shr(5, sub(p, packed.offset)) }
        }
    }

    /// @dev Skip-mode loop: `token.transfer` then `balanceOf(this)` for every recipient. The balance
    ///      must drop by exactly the amount (paid) or stay at `expected` (skipped: event); anything
    ///      else reverts with `BalanceMismatch`. Returns the sum and count of the skipped
    ///      recipients (the balance is then `expected` minus the amounts paid). Needs well-formed input (amounts adding up to the total
    ///      pulled, so `expected - amount` never underflows: by induction `expected` is the base
    ///      plus the amounts still to pay). Only `disburseOrSkip` calls it (its batch id is read
    ///      from that function's calldata).
    function _transferOrSkipAll(address token, bytes32[] calldata packed, uint256 expected)
        private
        returns (uint256 skippedSum, uint256 skippedCount)
    {
        // Why assembly: the per-recipient balanceOf is inherent to this mode; the loop around it must
        // stay small. Memory: the transfer call in scratch [0x00,0x44) as in `_transferAll`; the
        // `balanceOf(address(this))` call prepared once at [fmp, fmp+0x24), above the free memory
        // pointer and never allocated; its answer at [0x44,0x64). The free memory pointer (0x40)
        // and the zero slot (0x60) are restored at the end. A skipped recipient's event data goes
        // to [fmp+0x40, fmp+0xa0). Errors are raised here directly (ABI-encoded custom errors).
        // Safe arithmetic: see above; `skippedSum` <= total and `skippedCount` <= n.
        assembly {
            let fmp := mload(0x40)
            mstore(fmp, shl(224, 0x70a08231)) // balanceOf(address)
            mstore(add(fmp, 0x04), address())
            mstore(0x00, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            let p := packed.offset
            let end := add(p, shl(5, packed.length))
            for {} lt(p, end) { p := add(p, 0x20) } {
                let w := calldataload(p)
                mstore(0x10, w)
                let amount := and(w, _AMOUNT_MASK)
                mstore(0x24, amount)
                // Result ignored: the balance decides.
                pop(call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00))
                let paidBalance := sub(expected, amount)
                // One test on the usual path: the balance was read and dropped by the amount. The
                // right-hand operand is evaluated first (Yul), so the read happens before mload.
                if iszero(
                    and(
                        eq(mload(0x44), paidBalance),
                        and(gt(returndatasize(), 0x1f), staticcall(gas(), token, fmp, 0x24, 0x44, 0x20))
                    )
                ) {
                    // Rare path: read the balance again (a view call, nothing changed) to tell an
                    // unreadable balance, a skipped transfer and a misbehaving token apart.
                    if iszero(and(gt(returndatasize(), 0x1f), staticcall(gas(), token, fmp, 0x24, 0x44, 0x20))) {
                        mstore(0x00, shl(224, 0xc238f08e)) // BalanceUnreadable(address)
                        mstore(0x04, token)
                        revert(0x00, 0x24)
                    }
                    let bal := mload(0x44)
                    if iszero(eq(bal, paidBalance)) {
                        if iszero(eq(bal, expected)) {
                            mstore(0x00, shl(224, 0x6e65ed84)) // BalanceMismatch(uint256,uint256)
                            mstore(0x04, paidBalance)
                            mstore(0x24, bal)
                            revert(0x00, 0x44)
                        }
                        // Nothing moved: skipped. TransferSkipped(batchId, index, recipient,
                        // amount), topic keccak256("TransferSkipped(bytes32,uint256,address,uint256)").
                        // The batch id is read from `disburseOrSkip`'s calldata (second argument,
                        // at 0x24): one stack slot fewer in this loop.
                        let data := add(fmp, 0x40)
                        mstore(data, shr(5, sub(p, packed.offset)))
                        mstore(add(data, 0x20), shr(96, w))
                        mstore(add(data, 0x40), amount)
                        log2(data, 0x60, 0xdb88be240e631c01767f55d7cfc4fa3287eaf42c4849abc4ace3eedca4176ede, calldataload(0x24))
                        skippedSum := add(skippedSum, amount)
                        skippedCount := add(skippedCount, 1)
                        paidBalance := expected
                    }
                }
                // Paid or skipped, the balance is what the next transfer starts from.
                expected := paidBalance
            }
            mstore(0x40, fmp)
            mstore(0x60, 0)
        }
    }

    /// @dev Pulls `total` from msg.sender and proves it arrived in full. Returns the balance the
    ///      disburser had before (normally zero; tokens sent to it by mistake stay untouched).
    function _pull(address token, uint256 total) private returns (uint256 base) {
        base = _selfBalance(token);
        bool ok;
        // Why assembly: a call whose return data is ignored (USDT returns nothing, some tokens
        // return false on success); the balance check below is the proof. Writes scratch memory
        // [0x00,0x64), which covers the free memory pointer (0x40) and the zero slot (0x60): both
        // are restored before any Solidity code runs.
        assembly {
            let fmp := mload(0x40)
            mstore(0x00, shl(224, 0x23b872dd)) // transferFrom(address,address,uint256)
            mstore(0x04, caller())
            mstore(0x24, address())
            mstore(0x44, total)
            ok := call(gas(), token, 0, 0x00, 0x64, 0x00, 0x00)
            mstore(0x40, fmp)
            mstore(0x60, 0)
        }
        // Kept before balanceOf overwrites it: the token's answer explains a pull that moved nothing.
        bytes memory answer = _returnData();
        if (!ok) revert TransferFailed(_PULL_INDEX, answer);
        uint256 balance = _selfBalance(token);
        // Nothing arrived: the token returned (typically false) instead of reverting.
        if (balance == base && total != 0) revert TransferFailed(_PULL_INDEX, answer);
        uint256 expected = base + total;
        if (balance != expected) revert BalanceMismatch(expected, balance);
    }

    /// @dev `token.transfer(to, amount)`, reporting only whether the call reverted.
    function _transfer(address token, address to, uint256 amount) private returns (bool ok) {
        // Why assembly: return data is ignored on purpose (see `_pull`). Writes scratch memory
        // [0x00,0x44), which covers the high bytes of the free memory pointer: restored.
        assembly {
            let fmp := mload(0x40)
            mstore(0x00, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            mstore(0x04, to)
            mstore(0x24, amount)
            ok := call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00)
            mstore(0x40, fmp)
        }
    }

    /// @dev The disburser's own balance of `token`.
    function _selfBalance(address token) private view returns (uint256 bal) {
        bool ok;
        // Why assembly: a static call without allocating memory; uses scratch space [0x00,0x24) only.
        // Yul evaluates arguments right to left, so returndatasize() is read after the call.
        assembly ("memory-safe") {
            mstore(0x00, shl(224, 0x70a08231)) // balanceOf(address)
            mstore(0x04, address())
            ok := and(gt(returndatasize(), 0x1f), staticcall(gas(), token, 0x00, 0x24, 0x00, 0x20))
            bal := mload(0x00)
        }
        if (!ok) revert BalanceUnreadable(token);
    }

    /// @dev Reverts with the first input error of the batch: a zero recipient, then a wrong total.
    function _requireWellFormed(bytes32[] calldata packed, uint256 total) private pure {
        (uint256 sum, uint256 zeroAt) = _scan(packed);
        if (zeroAt != _NONE) revert ZeroRecipient(zeroAt);
        if (sum != total) revert TotalMismatch(total, sum);
    }

    /// @dev Sum of the amounts and the index of the first zero recipient (`_NONE` if none).
    function _scan(bytes32[] calldata packed) private pure returns (uint256 sum, uint256 zeroAt) {
        // Why assembly: skip mode runs this on every batch before anything moves, so it is a
        // per-recipient cost: one pass summing amounts and noting whether any recipient is zero
        // (unrolled by 8 like `_transferAll`); the index of the first zero recipient is searched
        // only when there is one. Safe arithmetic: amounts are < 2^96 and n < 2^64, so the sum
        // stays below 2^160; offsets are calldata offsets.
        assembly {
            zeroAt := _NONE
            let p := packed.offset
            let end := add(p, shl(5, packed.length))
            let groups := add(p, shl(5, and(packed.length, 7)))
            let zeroSeen := 0
            for {} lt(p, groups) { p := add(p, 0x20) } {
                {
                    let w := calldataload(p)
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
            }
            for {} lt(p, end) { p := add(p, 0x100) } {
                {
                    let w := calldataload(p)
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
                {
                    let w := calldataload(add(p, 0x20))
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
                {
                    let w := calldataload(add(p, 0x40))
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
                {
                    let w := calldataload(add(p, 0x60))
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
                {
                    let w := calldataload(add(p, 0x80))
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
                {
                    let w := calldataload(add(p, 0xa0))
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
                {
                    let w := calldataload(add(p, 0xc0))
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
                {
                    let w := calldataload(add(p, 0xe0))
                    sum := add(sum, and(w, _AMOUNT_MASK))
                    zeroSeen := or(zeroSeen, iszero(gt(w, _LAST_ZERO_RECIPIENT_WORD)))
                }
            }
            if zeroSeen {
                for { p := packed.offset } gt(calldataload(p), _LAST_ZERO_RECIPIENT_WORD) { p := add(p, 0x20) } {}
                zeroAt := shr(5, sub(p, packed.offset))
            }
        }
    }

    /// @dev The return data of the last call, to pass a callee's revert reason through.
    function _returnData() private view returns (bytes memory data) {
        // Why assembly: Solidity has no expression for "the last call's return data" here.
        // Allocates a fresh bytes array at the free memory pointer (memory-safe).
        assembly ("memory-safe") {
            data := mload(0x40)
            mstore(data, returndatasize())
            returndatacopy(add(data, 0x20), 0x00, returndatasize())
            mstore(0x40, add(add(data, 0x20), and(add(returndatasize(), 0x1f), not(0x1f))))
        }
    }
}
