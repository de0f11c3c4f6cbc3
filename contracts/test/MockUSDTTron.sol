// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MockUSDTTron
/// @notice Reproduces Tether USD on TRON (TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t): `transfer` returns
///         false ON SUCCESS (its override never sets the return value), `transferFrom` returns true,
///         failures revert without a reason, a blacklist blocks the sender / `from` account, and the
///         owner can pause. SafeERC20-style "require(returned true)" wrappers revert on it.
contract MockUSDTTron {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public name = "Tether USD";
    string public symbol = "USDT";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    address public owner;
    bool public paused;

    mapping(address => uint256) private _balances;
    mapping(address => mapping(address => uint256)) private _allowed;
    mapping(address => bool) public isBlackListed;

    constructor() {
        owner = msg.sender;
    }

    function mint(address to, uint256 value) external {
        _balances[to] += value;
        totalSupply += value;
        emit Transfer(address(0), to, value);
    }

    function balanceOf(address who) external view returns (uint256) {
        return _balances[who];
    }

    function allowance(address holder, address spender) external view returns (uint256) {
        return _allowed[holder][spender];
    }

    /// @notice Moves the tokens and returns false: the value TRON's USDT really returns.
    function transfer(address to, uint256 value) external returns (bool) {
        require(!paused);
        require(!isBlackListed[msg.sender]);
        _move(msg.sender, to, value);
        return false;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        require(!paused);
        require(!isBlackListed[from]);
        uint256 current = _allowed[from][msg.sender];
        require(current >= value);
        if (current < type(uint256).max) _allowed[from][msg.sender] = current - value;
        _move(from, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        require(!((value != 0) && (_allowed[msg.sender][spender] != 0)));
        _allowed[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function addBlackList(address user) external {
        require(msg.sender == owner);
        isBlackListed[user] = true;
    }

    function pause() external {
        require(msg.sender == owner);
        paused = true;
    }

    function _move(address from, address to, uint256 value) private {
        uint256 balance = _balances[from];
        require(balance >= value);
        _balances[from] = balance - value;
        _balances[to] += value;
        emit Transfer(from, to, value);
    }
}
