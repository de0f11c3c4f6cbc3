// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IDisburser
/// @notice Batch payouts of one ERC-20/TRC-20 token (or the native coin) from the caller's funds.
/// @dev Recipients are packed back to back in `packed`, one row of `20 + amountBytes` bytes each:
///      the recipient address (20 bytes) followed by the amount (token base units) as
///      `amountBytes` big-endian bytes, `amountBytes` in 1..12 (so an amount is below 2^96). The
///      encoder picks the fewest bytes that hold the batch's largest amount: calldata is paid per
///      byte, and every leading zero byte of an amount would be paid for nothing.
///
///      Replay protection: each batch carries a `replayKey` = 31-byte word key || 1-byte bit index.
///      A replay key executes at most once per payer, in every mode, so a batch can be resubmitted
///      after a crash without paying anyone twice. Batches that share a word key share one storage
///      word (a 256-bit bitmap), so the batches of one run after the first pay ~5,000 gas for their
///      marker instead of a fresh 22,100-gas slot. `batchId` is the caller's commitment to the
///      batch's content; it is not stored, only emitted (indexed) for reconciliation.
interface IDisburser {
    /// @notice One per batch, for reconciliation.
    /// @param payer Whose funds paid (msg.sender).
    /// @param token The token paid, or address(0) for the native coin.
    /// @param batchId The caller-chosen batch id (a commitment to the batch's content).
    /// @param count Number of recipients actually paid.
    /// @param total Sum actually paid, in base units.
    event BatchDisbursed(
        address indexed payer, address indexed token, bytes32 indexed batchId, uint256 count, uint256 total
    );

    /// @notice Skip-and-report mode: the transfer at `index` failed and its amount stayed with the payer.
    event TransferSkipped(bytes32 indexed batchId, uint256 index, address recipient, uint256 amount);

    /// @notice The replay key was already executed by this payer.
    error BatchAlreadyExecuted(address payer, bytes32 replayKey);
    /// @notice The token address has no code.
    error TokenHasNoCode(address token);
    /// @notice The amounts do not add up to the declared total.
    error TotalMismatch(uint256 declared, uint256 actual);
    /// @notice Recipient at `index` is the zero address.
    error ZeroRecipient(uint256 index);
    /// @notice The batch is empty.
    error EmptyBatch();
    /// @notice `amountBytes` is outside 1..12, or `packed` is not a whole number of
    ///         `20 + amountBytes`-byte rows, or (native batches) the encoding's amounts could reach
    ///         2^96; `amountBytes` is then the whole encoding.
    error BadPacking(uint256 amountBytes, uint256 length);
    /// @notice A token (or native) transfer call reverted. `index` is the recipient's position, or
    ///         type(uint256).max for the pull of the total from the payer; `reason` is the callee's
    ///         revert data, passed through unchanged. Also raised when a transfer returned without
    ///         moving anything (a token that returns false on failure): `reason` is then the
    ///         token's return data (an ABI-encoded false).
    error TransferFailed(uint256 index, bytes reason);
    /// @notice A token balance moved by a different amount than asked: the disburser's after the
    ///         pull (fee-on-transfer token, or a transferFrom that returned without moving funds) or
    ///         after the transfers (a transfer that reported success without moving funds, or that
    ///         took more), or a recipient's in a small batch paid directly by `transferFrom`.
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

    /// @notice Pay every recipient or revert. Needs an allowance of `total` from msg.sender.
    function disburse(
        address token,
        bytes32 batchId,
        bytes32 replayKey,
        uint256 total,
        uint256 amountBytes,
        bytes calldata packed
    ) external;

    /// @notice Pay every recipient whose transfer succeeds; failed ones emit TransferSkipped and their
    ///         amounts stay with (are returned to) the payer. Returns the sum paid.
    function disburseOrSkip(
        address token,
        bytes32 batchId,
        bytes32 replayKey,
        uint256 total,
        uint256 amountBytes,
        bytes calldata packed
    ) external returns (uint256 paid);

    /// @notice Pay the native coin; msg.value must cover the total, the excess is refunded.
    /// @dev `encoding` is `amountBytes | exponent << 8`: each row carries a mantissa of
    ///      `amountBytes` bytes and the batch one decimal exponent (amount = mantissa * 10^exponent,
    ///      so "0.05" of an 18-decimal coin is mantissa 5, exponent 16). Exponent 0 is the plain
    ///      encoding. Refused with `BadPacking(encoding, length)` when a row's amount could reach
    ///      2^96 (10^exponent * 2^(8 * amountBytes) > 2^96). A zero-amount row to the zero address
    ///      moves nothing and is not refused.
    function disburseNative(bytes32 batchId, bytes32 replayKey, uint256 encoding, bytes calldata packed)
        external
        payable;

    /// @notice Whether `payer` already executed `replayKey`.
    function executed(address payer, bytes32 replayKey) external view returns (bool);
}
