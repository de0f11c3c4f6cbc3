// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IERC20Like {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @title NaiveBatch
/// @notice Benchmark baseline: the batch contract most people write first, a plain Solidity loop of
///         `transferFrom(msg.sender, recipient, amount)` with standard ABI arrays. No replay
///         protection, no balance accounting, breaks on tokens that return nothing.
contract NaiveBatch {
    error LengthMismatch();
    error TransferFromFailed(uint256 index);

    function batchTransferFrom(address token, address[] calldata recipients, uint256[] calldata amounts)
        external
    {
        if (recipients.length != amounts.length) revert LengthMismatch();
        for (uint256 i = 0; i < recipients.length; i++) {
            if (!IERC20Like(token).transferFrom(msg.sender, recipients[i], amounts[i])) {
                revert TransferFromFailed(i);
            }
        }
    }
}
