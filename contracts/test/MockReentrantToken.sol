// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MockReentrantToken
/// @notice A standard token whose `transfer` calls back into a target (the disburser) with
///         prepared calldata once armed, as a malicious or hooked token (ERC-777-style) could.
///         With `bubble` set, a failed re-entry makes the transfer revert with the callee's revert
///         data; otherwise the outcome is recorded in `lastReentryOk` / `lastReentryData`.
contract MockReentrantToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    uint8 public constant decimals = 6;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    address public target;
    bytes public reentryCalldata;
    bool public bubble;
    bool public armed;
    bool public lastReentryOk;
    bytes public lastReentryData;

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function arm(address target_, bytes calldata data, bool bubble_) external {
        target = target_;
        reentryCalldata = data;
        bubble = bubble_;
        armed = true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        if (armed) {
            armed = false;
            (bool ok, bytes memory data) = target.call(reentryCalldata);
            lastReentryOk = ok;
            lastReentryData = data;
            if (!ok && bubble) {
                // Why assembly: re-throw the callee's revert data unchanged.
                assembly {
                    revert(add(data, 0x20), mload(data))
                }
            }
        }
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 current = allowance[from][msg.sender];
        require(current >= value, "ERC20: insufficient allowance");
        if (current != type(uint256).max) allowance[from][msg.sender] = current - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(balanceOf[from] >= value, "ERC20: transfer amount exceeds balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
