// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title DirectDisburser
/// @notice Benchmark-only alternative design, measured against `Disburser` to find the crossover:
///         `transferFrom(payer, recipient, amount)` per recipient instead of one pull and N
///         transfers, with the same safety rules (replay protection, re-entrancy lock, zero
///         recipient, total check, delivery proven by balances, not return values). Without a pull,
///         delivery can only be proven on the recipient's side: one balanceOf before and one after
///         each transfer. A payer paying itself cannot be proven this way and is refused.
///         Not shipped; see docs/contract.md for the measured crossover.
contract DirectDisburser {
    error BatchAlreadyExecuted(address payer, bytes32 batchId);
    error TokenHasNoCode(address token);
    error TotalMismatch(uint256 declared, uint256 actual);
    error ZeroRecipient(uint256 index);
    error EmptyBatch();
    error TransferFailed(uint256 index);
    error BalanceMismatch(uint256 index, uint256 expected, uint256 actual);
    error Reentered();

    event BatchDisbursed(
        address indexed payer, address indexed token, bytes32 indexed batchId, uint256 count, uint256 total
    );

    mapping(address => mapping(bytes32 => bool)) private _executed;
    bool private transient _locked;

    uint256 private constant _AMOUNT_MASK = 0xffffffffffffffffffffffff;

    function disburse(address token, bytes32 batchId, uint256 total, bytes32[] calldata packed) external {
        if (_locked) revert Reentered();
        _locked = true;
        uint256 n = packed.length;
        if (n == 0) revert EmptyBatch();
        mapping(bytes32 => bool) storage done = _executed[msg.sender];
        if (done[batchId]) revert BatchAlreadyExecuted(msg.sender, batchId);
        done[batchId] = true;
        if (token.code.length == 0) revert TokenHasNoCode(token);

        uint256 sum;
        for (uint256 i; i < n; ++i) {
            uint256 w = uint256(packed[i]);
            address to = address(uint160(w >> 96));
            uint256 amount = w & _AMOUNT_MASK;
            if (to == address(0) || to == msg.sender) revert ZeroRecipient(i);
            // Safe: amounts are < 2^96 and n < 2^64.
            unchecked {
                sum += amount;
            }
            uint256 before = _balanceOf(token, to);
            if (!_transferFrom(token, to, amount)) revert TransferFailed(i);
            uint256 afterwards = _balanceOf(token, to);
            // Safe: compared, not trusted; a decrease wraps to a huge value and fails the check.
            unchecked {
                if (afterwards - before != amount) revert BalanceMismatch(i, before + amount, afterwards);
            }
        }
        if (sum != total) revert TotalMismatch(total, sum);
        emit BatchDisbursed(msg.sender, token, batchId, n, total);
        _locked = false;
    }

    function _transferFrom(address token, address to, uint256 amount) private returns (bool ok) {
        // Why assembly: return data ignored (balances decide). Writes [0x00,0x64), restoring the
        // free memory pointer and the zero slot.
        assembly {
            let fmp := mload(0x40)
            mstore(0x00, shl(224, 0x23b872dd))
            mstore(0x04, caller())
            mstore(0x24, to)
            mstore(0x44, amount)
            ok := call(gas(), token, 0, 0x00, 0x64, 0x00, 0x00)
            mstore(0x40, fmp)
            mstore(0x60, 0)
        }
    }

    function _balanceOf(address token, address who) private view returns (uint256 bal) {
        bool ok;
        // Why assembly: a static call in scratch space [0x00,0x24).
        assembly ("memory-safe") {
            mstore(0x00, shl(224, 0x70a08231))
            mstore(0x04, who)
            ok := and(gt(returndatasize(), 0x1f), staticcall(gas(), token, 0x00, 0x24, 0x00, 0x20))
            bal := mload(0x00)
        }
        require(ok);
    }
}
