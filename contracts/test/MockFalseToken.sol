// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MockFalseToken
/// @notice An early-ERC-20-style token that signals failure by returning false instead of
///         reverting (insufficient balance or allowance, or a blocked recipient) and moves nothing.
///         A contract that trusts "the call did not revert" would count those as paid.
contract MockFalseToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public blocked;
    /// @notice Test switch: a blocked transfer answers true (a lie) instead of false.
    bool public lies;

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
        totalSupply += value;
        emit Transfer(address(0), to, value);
    }

    /// @notice Test switch: transfers to `account` return false.
    function setBlocked(address account, bool isBlocked) external {
        blocked[account] = isBlocked;
    }

    /// @notice Test switch: blocked transfers report success (true) while moving nothing.
    function setLies(bool lying) external {
        lies = lying;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        return _move(msg.sender, to, value) || (lies && blocked[to]);
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 current = allowance[from][msg.sender];
        if (current < value) return false;
        if (!_move(from, to, value)) return false;
        allowance[from][msg.sender] = current - value;
        return true;
    }

    function _move(address from, address to, uint256 value) private returns (bool) {
        if (blocked[to] || balanceOf[from] < value) return false;
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        return true;
    }
}
