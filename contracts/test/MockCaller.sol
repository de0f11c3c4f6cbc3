// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MockCaller
/// @notice A contract payer or recipient for tests: forwards calls (so the disburser sees a contract
///         as msg.sender), and accepts, rejects, re-enters or forwards (to `reentryTarget`)
///         incoming native coin.
contract MockCaller {
    enum OnReceive {
        Accept,
        Reject,
        Reenter,
        Forward
    }

    OnReceive public onReceive;
    address public reentryTarget;
    bytes public reentryCalldata;
    bool public lastReentryOk;
    bytes public lastReentryData;

    function setOnReceive(OnReceive mode, address target, bytes calldata data) external {
        onReceive = mode;
        reentryTarget = target;
        reentryCalldata = data;
    }

    /// @notice Call `target` with `data` and `msg.value`, re-throwing its revert data.
    function execute(address target, bytes calldata data) external payable returns (bytes memory result) {
        bool ok;
        (ok, result) = target.call{value: msg.value}(data);
        if (!ok) {
            // Why assembly: re-throw the callee's revert data unchanged.
            assembly {
                revert(add(result, 0x20), mload(result))
            }
        }
    }

    receive() external payable {
        if (onReceive == OnReceive.Reject) revert("MockCaller: rejects native coin");
        if (onReceive == OnReceive.Reenter) {
            (bool ok, bytes memory data) = reentryTarget.call(reentryCalldata);
            lastReentryOk = ok;
            lastReentryData = data;
        }
        if (onReceive == OnReceive.Forward) {
            (bool ok,) = reentryTarget.call{value: msg.value}("");
            require(ok, "MockCaller: forward failed");
        }
    }
}
