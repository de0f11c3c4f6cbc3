// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IDisburser
/// @notice Batch payouts of one ERC-20/TRC-20 token (or the native coin) from the caller's funds.
/// @dev Recipients are packed one 32-byte word each: the address in the high 20 bytes and the
///      amount (uint96, token base units) in the low 12 bytes:
///      `word = uint256(uint160(recipient)) << 96 | amount`.
///      A batch id executes at most once per payer, in every mode, so a batch can be resubmitted
///      after a crash without paying anyone twice.
interface IDisburser {
    /// @notice One per batch, for reconciliation.
    /// @param payer Whose funds paid (msg.sender).
    /// @param token The token paid, or address(0) for the native coin.
    /// @param batchId The caller-chosen batch id, unique per payer.
    /// @param count Number of recipients actually paid.
    /// @param total Sum actually paid, in base units.
    event BatchDisbursed(
        address indexed payer, address indexed token, bytes32 indexed batchId, uint256 count, uint256 total
    );

    /// @notice Skip-and-report mode: the transfer at `index` failed and its amount stayed with the payer.
    event TransferSkipped(bytes32 indexed batchId, uint256 index, address recipient, uint256 amount);

    /// @notice The batch id was already executed by this payer.
    error BatchAlreadyExecuted(address payer, bytes32 batchId);
    /// @notice The token address has no code.
    error TokenHasNoCode(address token);
    /// @notice The amounts do not add up to the declared total.
    error TotalMismatch(uint256 declared, uint256 actual);
    /// @notice Recipient at `index` is the zero address.
    error ZeroRecipient(uint256 index);
    /// @notice The batch is empty.
    error EmptyBatch();
    /// @notice A token (or native) transfer call reverted. `index` is the recipient's position, or
    ///         type(uint256).max for the pull of the total from the payer; `reason` is the callee's
    ///         revert data, passed through unchanged. Also raised when the pull returned without
    ///         moving anything (a token that returns false on failure): `reason` is then the
    ///         token's return data (an ABI-encoded false).
    error TransferFailed(uint256 index, bytes reason);
    /// @notice The disburser's token balance moved by a different amount than asked: after the pull
    ///         (fee-on-transfer token, or a transferFrom that returned without moving funds), or after
    ///         the transfers (a transfer that reported success without moving funds, or that took more).
    error BalanceMismatch(uint256 expected, uint256 actual);
    /// @notice The token's balanceOf could not be read (call failed or returned too little data).
    error BalanceUnreadable(address token);
    /// @notice Native batch: msg.value is below the total.
    error InsufficientValue(uint256 total, uint256 value);
    /// @notice Returning funds to the payer failed: the native excess, or the skipped amounts in
    ///         skip-and-report mode.
    error RefundFailed();
    /// @notice The disburser was re-entered during a batch.
    error Reentered();

    /// @notice Pay every recipient or revert. Pulls `total` from msg.sender (needs an allowance).
    function disburse(address token, bytes32 batchId, uint256 total, bytes32[] calldata packed) external;

    /// @notice Pay every recipient whose transfer succeeds; failed ones emit TransferSkipped and their
    ///         amounts stay with (are returned to) the payer. Returns the sum paid.
    function disburseOrSkip(address token, bytes32 batchId, uint256 total, bytes32[] calldata packed)
        external
        returns (uint256 paid);

    /// @notice Pay the native coin; msg.value must cover the total, the excess is refunded.
    function disburseNative(bytes32 batchId, bytes32[] calldata packed) external payable;

    /// @notice Whether `payer` already executed `batchId`.
    function executed(address payer, bytes32 batchId) external view returns (bool);
}
