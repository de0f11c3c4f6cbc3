// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDisburser} from "./interfaces/IDisburser.sol";

/// @title Disburser
/// @notice Pays many recipients of one ERC-20/TRC-20 token (or of the native coin) in one
///         transaction, from the caller's own funds. No owner, no upgrade path, no fee; the contract
///         never keeps funds after a call.
/// @dev Recipients are packed back to back, `20 + amountBytes` bytes each (see IDisburser).
///
///      Strict mode (`disburse`), batches of more than `_DIRECT_MAX` recipients: pull the declared
///      total from the payer with one `transferFrom`, then `transfer` each amount. Delivery is
///      proven by the disburser's own token balance, never by return values, so tokens that return
///      nothing (USDT on Ethereum) or return false on success (USDT on TRON) work, and a token that
///      returns false without moving funds is caught:
///        - right after the pull the balance must have grown by exactly `total` (catches
///          fee-on-transfer tokens and silent transferFrom failures);
///        - after the loop it must be back where it started (catches a transfer that reported success
///          without moving funds, or that took more than asked).
///      Small batches (up to `_DIRECT_MAX` recipients, none of them the payer or the disburser):
///      the pull and the transfers back out of the disburser cost more than they save, so each
///      recipient is paid directly with `transferFrom(payer, recipient, amount)`, and each
///      delivery is proven by the recipient's balance (exactly `+amount`; fee-on-transfer
///      refused the same way).
///      Limitation: a token that charges a fee only on `transfer` and takes it from the amount the
///      recipient receives (not from the sender) cannot be detected by the pull path without a
///      balanceOf call per recipient; `disburseOrSkip` does not detect it either. No common
///      stablecoin does that.
///
///      Skip mode (`disburseOrSkip`): same pull, then one transfer per recipient. A transfer that
///      reverted moved nothing (the EVM rolled it back): skipped. A transfer that returned an ABI
///      `false` (USDT on TRON does so on success, old tokens on failure) is decided by one balanceOf.
///      Any other answer counts as paid, and the final balance proof (the disburser holds exactly the
///      skipped sum on top of what it held before) reverts the whole batch if a token lied. The
///      skipped sum goes back to the payer.
///
///      Native mode (`disburseNative`): one call with value per recipient, excess refunded. Rows
///      carry mantissas and the batch a decimal exponent (see IDisburser), because an 18-decimal
///      coin's payout amounts end in zeros that would otherwise be paid for in calldata.
///
///      Every mode marks the replay key executed before any external call, and refuses re-entry
///      through a transient-storage lock.
contract Disburser is IDisburser {
    /// @dev payer => word key (replay key >> 8) => bitmap of executed bit indexes (replay key & 0xff).
    mapping(address => mapping(uint256 => uint256)) private _replayWords;

    /// @dev Re-entrancy lock (EIP-1153 transient storage, cancun; live on TRON since 2025-06).
    bool private transient _locked;

    /// @dev Batches of at most this many recipients are paid by `transferFrom` per recipient (when
    ///      none of them is the payer). Measured on an OpenZeppelin-style token (fresh recipients,
    ///      replay word already in use): direct saves 11,116 gas at 1 recipient, 3,226 at 2 and
    ///      221 at 3; from 4 the pull is cheaper (by 2,748 at 4). See docs/contract.md.
    uint256 private constant _DIRECT_MAX = 3;
    /// @dev The largest row word whose recipient (its high 20 bytes) is the zero address.
    uint256 private constant _LAST_ZERO_RECIPIENT_WORD = 0xffffffffffffffffffffffff;
    /// @dev "No index": no zero recipient, no failed transfer; also the `TransferFailed` index of
    ///      the pull of the total from the payer.
    uint256 private constant _NONE = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff;
    uint256 private constant _PULL_INDEX = _NONE;
    /// @dev Skip mode counts skipped recipients above bit 160 and sums their amounts below it (a
    ///      sum of at most 2^64 amounts below 2^96 stays below 2^160): one stack slot for both.
    uint256 private constant _SKIPPED_SUM_MASK = (1 << 160) - 1;
    uint256 private constant _ONE_SKIPPED = 1 << 160;

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
    function disburse(
        address token,
        bytes32 batchId,
        bytes32 replayKey,
        uint256 total,
        uint256 amountBytes,
        bytes calldata packed
    ) external nonReentrant {
        (uint256 rowSize, uint256 shift) = _begin(replayKey, amountBytes, packed.length);
        if (token.code.length == 0) revert TokenHasNoCode(token);
        uint256 n = packed.length / rowSize;
        if (n <= _DIRECT_MAX && _payDirect(token, total, packed, rowSize, shift)) {
            emit BatchDisbursed(msg.sender, token, batchId, n, total);
            return;
        }
        uint256 base = _pull(token, total);

        uint256 failedIndex = _transferAll(token, packed, rowSize, shift);
        if (failedIndex != _NONE) {
            bytes memory reason = _returnData();
            // Input errors explain a failed transfer better (e.g. amounts above the total).
            _requireWellFormed(packed, rowSize, shift, total);
            revert TransferFailed(failedIndex, reason);
        }
        // The balance proof also proves the total: the pull added exactly `total`, so the
        // balance is back at `base` only if the transfers moved exactly `total` out. Amounts that
        // do not add up to it land here, and get the more precise error.
        uint256 left = _balanceOf(token, address(this));
        if (left != base) {
            _requireWellFormed(packed, rowSize, shift, total);
            revert BalanceMismatch(base, left);
        }
        emit BatchDisbursed(msg.sender, token, batchId, n, total);
    }

    /// @inheritdoc IDisburser
    function disburseOrSkip(
        address token,
        bytes32 batchId,
        bytes32 replayKey,
        uint256 total,
        uint256 amountBytes,
        bytes calldata packed
    ) external nonReentrant returns (uint256 paid) {
        (uint256 rowSize, uint256 shift) = _begin(replayKey, amountBytes, packed.length);
        if (token.code.length == 0) revert TokenHasNoCode(token);
        // Malformed input is refused before anything moves: skipping is for transfer failures only.
        _requireWellFormed(packed, rowSize, shift, total);
        uint256 base = _pull(token, total);

        uint256 skipped = _transferOrSkipAll(token, packed, rowSize, shift, base + total);
        uint256 skippedSum = skipped & _SKIPPED_SUM_MASK;
        _settleSkipped(token, base, skippedSum);
        uint256 count;
        // Safe: the skipped amounts are part of the well-formed total; at most n are skipped.
        unchecked {
            paid = total - skippedSum;
            count = packed.length / rowSize - (skipped >> 160);
        }
        emit BatchDisbursed(msg.sender, token, batchId, count, paid);
    }

    /// @inheritdoc IDisburser
    function disburseNative(bytes32 batchId, bytes32 replayKey, uint256 encoding, bytes calldata packed)
        external
        payable
        nonReentrant
    {
        (uint256 rowSize,) = _begin(replayKey, encoding & 0xff, packed.length);
        uint256 scale = _nativeScale(encoding, packed.length);
        uint256 start = address(this).balance;
        uint256 base;
        // Safe: the balance includes msg.value.
        unchecked {
            base = start - msg.value;
        }
        // The loop does not test recipients: a payment to the zero address shows as a rise of its
        // balance (nothing can take coins out of it), and then the scan names the row. One balance
        // read per batch instead of a test per recipient.
        uint256 zeroBefore = address(0).balance;
        uint256 failedIndex = _sendAll(packed, rowSize, scale);
        uint256 left = address(this).balance;
        // Coins can also reach the zero address from a recipient's own code: only a zero row is
        // refused.
        if (address(0).balance != zeroBefore) _refuseZeroRecipient(packed, rowSize);
        // No running sum: a call with more value than the contract holds fails, and what was paid is
        // what left the contract. Below `base` means amounts above msg.value were paid out of coins
        // the contract held before (sent to it by force): refused like any shortfall.
        if (failedIndex != _NONE || left < base) _refuseNativeBatch(packed, rowSize, scale, failedIndex);
        uint256 excess;
        // Safe: base <= left was checked just above.
        unchecked {
            excess = left - base;
        }
        if (excess != 0) {
            (bool ok,) = msg.sender.call{value: excess}("");
            if (!ok) revert RefundFailed();
        }
        uint256 paid;
        // Safe: subtracted only when left < start. Coins forced into the contract during the batch
        // (a recipient's selfdestruct) can only raise `left`: they were refunded above, and the
        // reported total is then lower than what was paid, never garbage.
        unchecked {
            paid = left < start ? start - left : 0;
        }
        emit BatchDisbursed(msg.sender, address(0), batchId, packed.length / rowSize, paid);
    }

    /// @inheritdoc IDisburser
    function executed(address payer, bytes32 replayKey) external view returns (bool) {
        uint256 key = uint256(replayKey);
        return _replayWords[payer][key >> 8] & (1 << (key & 0xff)) != 0;
    }

    // ----------------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------------

    /// @dev Refuses empty and malformed batches and replays, and marks the replay key executed
    ///      before any external call. Returns the row size and the right shift that extracts the
    ///      amount from a row word shifted left by 160 bits.
    function _begin(bytes32 replayKey, uint256 amountBytes, uint256 length)
        private
        returns (uint256 rowSize, uint256 shift)
    {
        if (length == 0) revert EmptyBatch();
        if (amountBytes == 0 || amountBytes > 12) revert BadPacking(amountBytes, length);
        // Safe: amountBytes is in 1..12.
        unchecked {
            rowSize = 20 + amountBytes;
            shift = 256 - 8 * amountBytes;
        }
        if (length % rowSize != 0) revert BadPacking(amountBytes, length);
        uint256 key = uint256(replayKey);
        uint256 bit = 1 << (key & 0xff);
        mapping(uint256 => uint256) storage words = _replayWords[msg.sender];
        uint256 word = words[key >> 8];
        if (word & bit != 0) revert BatchAlreadyExecuted(msg.sender, replayKey);
        words[key >> 8] = word | bit;
    }

    /// @dev Native batches: `encoding` is `amountBytes | exponent << 8`, and a row's amount is its
    ///      mantissa times 10^exponent (an 18-decimal coin's amounts end in zeros a payout file never
    ///      fills: "0.05" ETH is 5 * 10^16 wei, one mantissa byte instead of eight). Returns
    ///      10^exponent; refuses an encoding whose largest amount could reach 2^96 (the bound every
    ///      sum in this contract relies on) with `BadPacking`.
    function _nativeScale(uint256 encoding, uint256 length) private pure returns (uint256 scale) {
        uint256 exponent = encoding >> 8;
        // 10^28 < 2^96 <= 10^29: a larger exponent never fits (and 10^exponent could overflow).
        if (exponent > 28) revert BadPacking(encoding, length);
        scale = 10 ** exponent;
        // Safe: scale < 2^94 and amountBytes <= 12 (checked by `_begin`), so the product < 2^190.
        unchecked {
            if (scale << (8 * (encoding & 0xff)) > 1 << 96) revert BadPacking(encoding, length);
        }
    }

    /// @dev Reverts with `ZeroRecipient` if a row of `packed` has the zero address.
    function _refuseZeroRecipient(bytes calldata packed, uint256 rowSize) private pure {
        (, uint256 zeroAt) = _scan(packed, rowSize, 416 - 8 * rowSize);
        if (zeroAt != _NONE) revert ZeroRecipient(zeroAt);
    }

    /// @dev A native batch that failed: the first input error (zero recipient, total above
    ///      msg.value), else the failed call's index and revert data.
    function _refuseNativeBatch(bytes calldata packed, uint256 rowSize, uint256 scale, uint256 failedIndex)
        private
        view
    {
        // rowSize is 21..32: the amount shift 256 - 8 * amountBytes is 416 - 8 * rowSize.
        (uint256 sum, uint256 zeroAt) = _scan(packed, rowSize, 416 - 8 * rowSize);
        if (zeroAt != _NONE) revert ZeroRecipient(zeroAt);
        // Safe: the sum of mantissas is below 2^160 and `scale` keeps each amount below 2^96.
        unchecked {
            sum *= scale;
        }
        if (sum > msg.value) revert InsufficientValue(sum, msg.value);
        revert TransferFailed(failedIndex, _returnData());
    }

    /// @dev Row `i`: the recipient and its amount.
    function _row(bytes calldata packed, uint256 i, uint256 rowSize, uint256 shift)
        private
        pure
        returns (address to, uint256 amount)
    {
        // Why assembly: a row is not ABI-encoded; read its 32-byte word straight from calldata (a
        // row shorter than 32 bytes reads into the next row or the zero padding; only its own bytes
        // are used). Safe arithmetic: calldata offsets (< 2^64).
        assembly {
            let r := calldataload(add(packed.offset, mul(i, rowSize)))
            to := shr(96, r)
            amount := shr(shift, shl(160, r))
        }
    }

    /// @dev Small batches: `transferFrom(payer, recipient, amount)` per recipient, each delivery
    ///      proven by the recipient's balance. Returns false, having moved nothing, when a recipient
    ///      is the payer (a self-payment cannot be proven on the recipient's side) or the disburser:
    ///      the pull path takes such batches. Input errors are refused before anything moves.
    function _payDirect(address token, uint256 total, bytes calldata packed, uint256 rowSize, uint256 shift)
        private
        returns (bool)
    {
        uint256 n = packed.length / rowSize;
        uint256 sum;
        for (uint256 i; i < n; ++i) {
            (address to, uint256 amount) = _row(packed, i, rowSize, shift);
            if (to == address(0)) revert ZeroRecipient(i);
            // The payer (nothing to prove on the recipient's side) and the disburser itself (the
            // amount would stay here) are left to the pull path, whose balance proof refuses
            // the latter.
            if (to == msg.sender || to == address(this)) return false;
            // Safe: amounts are < 2^96 and n <= _DIRECT_MAX.
            unchecked {
                sum += amount;
            }
        }
        if (sum != total) revert TotalMismatch(total, sum);
        for (uint256 i; i < n; ++i) {
            (address to, uint256 amount) = _row(packed, i, rowSize, shift);
            uint256 before = _balanceOf(token, to);
            if (!_transferFrom(token, to, amount)) revert TransferFailed(i, _returnData());
            // Kept before balanceOf overwrites it: the token's answer explains a transfer that
            // moved nothing.
            bytes memory answer = _returnData();
            uint256 afterwards = _balanceOf(token, to);
            if (afterwards != before + amount) {
                if (afterwards == before) revert TransferFailed(i, answer);
                revert BalanceMismatch(before + amount, afterwards);
            }
        }
        return true;
    }

    /// @dev Strict-mode loop: `token.transfer` to every recipient, stopping at the first call that
    ///      reverts or has a zero recipient (its index is `failedIndex`, else `_NONE`).
    function _transferAll(address token, bytes calldata packed, uint256 rowSize, uint256 shift)
        private
        returns (uint256 failedIndex)
    {
        // Why assembly: this loop is the per-recipient cost (~25,650 gas are the token's own; the
        // loop's own share is ~75). It reads each row straight from calldata and builds the
        // `transfer(address,uint256)` call in scratch memory with two stores.
        // Memory: [0x00,0x04) selector, [0x04,0x10) zero padding, [0x10,0x24) recipient (the row
        // word's high 20 bytes land there when the word is stored at 0x10), [0x24,0x44) amount
        // (the word's low 12 bytes land at [0x24,0x30): the amount's bytes first, then what follows
        // the row; reading them back and shifting right leaves the amount, cheaper than shifting
        // the word twice). That overwrites the high 4 bytes of the free memory pointer (0x40),
        // restored right after.
        // Return data is ignored on purpose (balance accounting decides): only a revert or a zero
        // recipient stops the loop. The zero-recipient test costs nothing: the call's gas argument
        // is the padded recipient read back from memory ([0x04,0x24)). Any real address is far
        // above the gas left, so the token gets all but 1/64 of it as with gas(); the zero address
        // gives it no gas, so the call fails and the loop stops there (a token with code cannot
        // run without gas; one whose code is a bare STOP moves nothing, and the balance proof
        // catches that). Addresses below ~2^15 (precompiles) get too little gas to be paid: their
        // row fails with TransferFailed, the right outcome for tokens sent there.
        // Unrolled by 16 (leading n mod 16 recipients one at a time) so that the loop test and
        // jump are paid once per 16 recipients; a failure leaves `p` on the failing row.
        // No arithmetic can overflow: p and end are calldata offsets (< 2^64).
        assembly {
            let fmp := mload(0x40)
            mstore(0x00, shl(224, 0xa9059cbb)) // transfer(address,uint256), zeroes [0x04,0x20)
            let p := packed.offset
            let end := add(p, packed.length)
            let groups := add(p, mul(mod(div(packed.length, rowSize), 16), rowSize))
            for {} lt(p, groups) {} {
                {
                    mstore(0x10, calldataload(p))
                    mstore(0x24, shr(shift, mload(0x24)))
                    if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                    p := add(p, rowSize)
                }
            }
            // Skipped when a leading recipient failed (p stopped before `groups`).
            if eq(p, groups) {
                for {} lt(p, end) {} {
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                    {
                        mstore(0x10, calldataload(p))
                        mstore(0x24, shr(shift, mload(0x24)))
                        if iszero(call(mload(0x04), token, 0, 0x00, 0x44, 0x00, 0x00)) { break }
                        p := add(p, rowSize)
                    }
                }
            }
            mstore(0x40, fmp)
            failedIndex := _NONE
            if lt(p, end) { failedIndex := div(sub(p, packed.offset), rowSize) }
        }
    }

    /// @dev Native-mode loop: one value call per recipient, stopping at the first failure.
    function _sendAll(bytes calldata packed, uint256 rowSize, uint256 scale) private returns (uint256 failedIndex) {
        // Why assembly: this loop is the per-recipient cost beside the call itself. Each row is read
        // as the 32-byte calldata word that ends at its last byte: the mantissa is the word's low
        // `amountBytes` bytes (one mask), the recipient the 20 bytes above them (one shift; CALL
        // uses only the low 160 bits of its address argument, so what lies above, the end of the
        // previous row or the bytes length word, is ignored). No test of the recipient here (see
        // `disburseNative`) and no memory used. The contract only holds msg.value (it has no
        // receive function), so amounts above it make a call fail. Unrolled by 8 like
        // `_transferAll`. Offsets are calldata offsets (< 2^64), `packed.offset` is past the
        // arguments' head (so `q` starts above zero): no overflow.
        assembly {
            let abits := shl(3, sub(rowSize, 20))
            let mask := sub(shl(abits, 1), 1)
            let first := sub(add(packed.offset, rowSize), 32)
            let q := first
            let end := add(q, packed.length)
            let groups := add(q, mul(mod(div(packed.length, rowSize), 8), rowSize))
            for {} lt(q, groups) {} {
                {
                    if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                    q := add(q, rowSize)
                }
            }
            if eq(q, groups) {
                for {} lt(q, end) {} {
                    {
                        if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                        q := add(q, rowSize)
                    }
                    {
                        if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                        q := add(q, rowSize)
                    }
                    {
                        if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                        q := add(q, rowSize)
                    }
                    {
                        if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                        q := add(q, rowSize)
                    }
                    {
                        if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                        q := add(q, rowSize)
                    }
                    {
                        if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                        q := add(q, rowSize)
                    }
                    {
                        if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                        q := add(q, rowSize)
                    }
                    {
                        if iszero(call(gas(), shr(abits, calldataload(q)), mul(scale, and(mask, calldataload(q))), 0x00, 0x00, 0x00, 0x00)) { break }
                        q := add(q, rowSize)
                    }
                }
            }
            failedIndex := _NONE
            if lt(q, end) { failedIndex := div(sub(q, first), rowSize) }
        }
    }

    /// @dev `_skipLoop` over the rows of `packed` (passed as calldata offsets: fewer stack slots).
    function _transferOrSkipAll(
        address token,
        bytes calldata packed,
        uint256 rowSize,
        uint256 shift,
        uint256 expected
    ) private returns (uint256 skipped) {
        uint256 start;
        uint256 end;
        // Why assembly: calldata offsets are only readable in assembly. Safe: offsets < 2^64.
        assembly {
            start := packed.offset
            end := add(start, packed.length)
        }
        return _skipLoop(token, start, end, rowSize, shift, expected);
    }

    /// @dev Skip-mode loop (rows at calldata [start, end)): `token.transfer` to every recipient. A call that reverted is skipped;
    ///      a call that answered an ABI `false` is decided by `balanceOf(this)`: dropped by the
    ///      amount (paid), unchanged (skipped: event), anything else reverts with
    ///      `BalanceMismatch`. Any other answer counts as paid (the caller proves the final
    ///      balance). `expected` tracks the balance if every transfer so far did what it was
    ///      counted as; it needs well-formed input (amounts adding up to the total pulled, so
    ///      `expected - amount` never underflows). Returns the count of the skipped recipients
    ///      times 2^160 plus their sum (see `_SKIPPED_SUM_MASK`). Only `disburseOrSkip` calls it (its batch id is read from that function's
    ///      calldata).
    function _skipLoop(
        address token,
        uint256 start,
        uint256 end,
        uint256 rowSize,
        uint256 shift,
        uint256 expected
    ) private returns (uint256 skipped) {
        // Why assembly: the loop is a per-recipient cost and must stay small. Memory: the transfer
        // call in scratch [0x00,0x44) as in `_transferAll`, its first answer word at [0x44,0x64);
        // the `balanceOf(address(this))` call prepared once at [fmp, fmp+0x24), above the free
        // memory pointer and never allocated; its answer at [0x44,0x64) too. The free memory
        // pointer (0x40) and the zero slot (0x60) are restored at the end. A skipped recipient's
        // event data goes to [fmp+0x40, fmp+0xa0). Errors are raised here directly (ABI-encoded
        // custom errors). Safe arithmetic: see above; the skipped sum <= total, the count <= n.
        assembly {
            let fmp := mload(0x40)
            mstore(fmp, shl(224, 0x70a08231)) // balanceOf(address)
            mstore(add(fmp, 0x04), address())
            mstore(0x00, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            let p := start
            for {} lt(p, end) { p := add(p, rowSize) } {
                let r := calldataload(p)
                mstore(0x10, r)
                let amount := shr(shift, mload(0x24))
                mstore(0x24, amount)
                let ok := call(gas(), token, 0, 0x00, 0x44, 0x44, 0x20)
                expected := sub(expected, amount)
                // Usual path: the call returned, with no answer, a short one, or a non-zero word.
                if iszero(and(ok, or(lt(returndatasize(), 0x20), mload(0x44)))) {
                    // Rare path. Reverted: nothing moved (skipped). Returned false: the balance
                    // decides; `ok` ends up 1 for paid, 0 for skipped.
                    if ok {
                        if iszero(and(gt(returndatasize(), 0x1f), staticcall(gas(), token, fmp, 0x24, 0x44, 0x20))) {
                            mstore(0x00, shl(224, 0xc238f08e)) // BalanceUnreadable(address)
                            mstore(0x04, token)
                            revert(0x00, 0x24)
                        }
                        if iszero(eq(mload(0x44), expected)) {
                            if iszero(eq(mload(0x44), add(expected, amount))) {
                                mstore(0x24, mload(0x44))
                                mstore(0x00, shl(224, 0x6e65ed84)) // BalanceMismatch(uint256,uint256)
                                mstore(0x04, expected)
                                revert(0x00, 0x44)
                            }
                            ok := 0
                        }
                    }
                    if iszero(ok) {
                        // TransferSkipped(batchId, index, recipient, amount), topic
                        // keccak256("TransferSkipped(bytes32,uint256,address,uint256)"). The batch
                        // id is read from `disburseOrSkip`'s calldata (second argument, at 0x24):
                        // one stack slot fewer in this loop. Event data at [fmp+0x40, fmp+0xa0).
                        mstore(add(fmp, 0x40), div(sub(p, start), rowSize))
                        mstore(add(fmp, 0x60), shr(96, r))
                        mstore(add(fmp, 0x80), amount)
                        log2(add(fmp, 0x40), 0x60, 0xdb88be240e631c01767f55d7cfc4fa3287eaf42c4849abc4ace3eedca4176ede, calldataload(0x24))
                        skipped := add(skipped, add(_ONE_SKIPPED, amount))
                        expected := add(expected, amount)
                    }
                }
            }
            mstore(0x40, fmp)
            mstore(0x60, 0)
        }
    }

    /// @dev Skip mode's balance proof and refund. Every transfer counted as paid must really have
    ///      moved its amount out: the disburser holds exactly `base + skippedSum` (a token that
    ///      answered success without moving funds, or moved more, reverts the whole batch). Then the
    ///      skipped sum goes back to the payer, proven the same way.
    function _settleSkipped(address token, uint256 base, uint256 skippedSum) private {
        uint256 expected;
        // Safe: skippedSum <= total, and base + total did not overflow in `_pull`.
        unchecked {
            expected = base + skippedSum;
        }
        uint256 left = _balanceOf(token, address(this));
        if (left != expected) revert BalanceMismatch(expected, left);
        if (skippedSum != 0) {
            _transfer(token, msg.sender, skippedSum);
            left = _balanceOf(token, address(this));
            // Still holding the skipped sum: the refund moved nothing.
            if (left == expected) revert RefundFailed();
            if (left != base) revert BalanceMismatch(base, left);
        }
    }

    /// @dev Pulls `total` from msg.sender and proves it arrived in full. Returns the balance the
    ///      disburser had before (normally zero; tokens sent to it by mistake stay untouched).
    function _pull(address token, uint256 total) private returns (uint256 base) {
        base = _balanceOf(token, address(this));
        bool ok = _transferFrom(token, address(this), total);
        // Kept before balanceOf overwrites it: the token's answer explains a pull that moved nothing.
        bytes memory answer = _returnData();
        if (!ok) revert TransferFailed(_PULL_INDEX, answer);
        uint256 balance = _balanceOf(token, address(this));
        // Nothing arrived: the token returned (typically false) instead of reverting.
        if (balance == base && total != 0) revert TransferFailed(_PULL_INDEX, answer);
        uint256 expected = base + total;
        if (balance != expected) revert BalanceMismatch(expected, balance);
    }

    /// @dev `token.transferFrom(msg.sender, to, amount)`, reporting only whether the call reverted.
    function _transferFrom(address token, address to, uint256 amount) private returns (bool ok) {
        // Why assembly: a call whose return data is ignored (USDT returns nothing, some tokens
        // return false on success); balances are the proof. Writes scratch memory [0x00,0x64),
        // which covers the free memory pointer (0x40) and the zero slot (0x60): both restored.
        assembly {
            let fmp := mload(0x40)
            mstore(0x00, shl(224, 0x23b872dd)) // transferFrom(address,address,uint256)
            mstore(0x04, caller())
            mstore(0x24, to)
            mstore(0x44, amount)
            ok := call(gas(), token, 0, 0x00, 0x64, 0x00, 0x00)
            mstore(0x40, fmp)
            mstore(0x60, 0)
        }
    }

    /// @dev `token.transfer(to, amount)`, reporting only whether the call reverted.
    function _transfer(address token, address to, uint256 amount) private returns (bool ok) {
        // Why assembly: return data is ignored on purpose (see `_transferFrom`). Writes scratch
        // memory [0x00,0x44), which covers the high bytes of the free memory pointer: restored.
        assembly {
            let fmp := mload(0x40)
            mstore(0x00, shl(224, 0xa9059cbb)) // transfer(address,uint256)
            mstore(0x04, to)
            mstore(0x24, amount)
            ok := call(gas(), token, 0, 0x00, 0x44, 0x00, 0x00)
            mstore(0x40, fmp)
        }
    }

    /// @dev `token.balanceOf(account)`; reverts with `BalanceUnreadable` when it cannot be read.
    function _balanceOf(address token, address account) private view returns (uint256 bal) {
        bool ok;
        // Why assembly: a static call without allocating memory; uses scratch space [0x00,0x24) only.
        // Yul evaluates arguments right to left, so returndatasize() is read after the call.
        assembly ("memory-safe") {
            mstore(0x00, shl(224, 0x70a08231)) // balanceOf(address)
            mstore(0x04, account)
            ok := and(gt(returndatasize(), 0x1f), staticcall(gas(), token, 0x00, 0x24, 0x00, 0x20))
            bal := mload(0x00)
        }
        if (!ok) revert BalanceUnreadable(token);
    }

    /// @dev Reverts with the first input error of the batch: a zero recipient, then a wrong total.
    function _requireWellFormed(bytes calldata packed, uint256 rowSize, uint256 shift, uint256 total)
        private
        pure
    {
        (uint256 sum, uint256 zeroAt) = _scan(packed, rowSize, shift);
        if (zeroAt != _NONE) revert ZeroRecipient(zeroAt);
        if (sum != total) revert TotalMismatch(total, sum);
    }

    /// @dev Sum of the amounts and the index of the first zero recipient (`_NONE` if none).
    function _scan(bytes calldata packed, uint256 rowSize, uint256 shift)
        private
        pure
        returns (uint256 sum, uint256 zeroAt)
    {
        // Why assembly: skip mode runs this on every batch before anything moves, so it is a
        // per-recipient cost: one pass summing amounts and noting whether any recipient is zero
        // (unrolled by 8 like `_transferAll`); the index of the first zero recipient is searched
        // only when there is one. Safe arithmetic: amounts are < 2^96 and n < 2^64, so the sum
        // stays below 2^160; offsets are calldata offsets.
        assembly {
            zeroAt := _NONE
            let p := packed.offset
            let end := add(p, packed.length)
            let groups := add(p, mul(mod(div(packed.length, rowSize), 8), rowSize))
            let zeroSeen := 0
            for {} lt(p, groups) {} {
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
            }
            for {} lt(p, end) {} {
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
                {
                    let r := calldataload(p)
                    sum := add(sum, shr(shift, shl(160, r)))
                    zeroSeen := or(zeroSeen, iszero(gt(r, _LAST_ZERO_RECIPIENT_WORD)))
                    p := add(p, rowSize)
                }
            }
            if zeroSeen {
                for { p := packed.offset } gt(calldataload(p), _LAST_ZERO_RECIPIENT_WORD) { p := add(p, rowSize) } {}
                zeroAt := div(sub(p, packed.offset), rowSize)
            }
        }
    }

    /// @dev The return data of the last call, to pass a callee's revert reason through.
    function _returnData() private pure returns (bytes memory data) {
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
