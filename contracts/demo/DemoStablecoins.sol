// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title DemoUSDC
/// @notice A USDC-like token for the demo and the tests: 6 decimals, an issuer blacklist whose
///         members can neither send nor receive (transfers revert with USDC's message) until the
///         issuer lifts it with `unBlacklist`, and an open `mint` so that local payers can be
///         funded. Never deploy it on a real network.
contract DemoUSDC {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Blacklisted(address indexed account);
    event UnBlacklisted(address indexed account);

    /// @notice Only the issuer may change the blacklist.
    error NotIssuer(address caller);

    string public name;
    string public symbol;
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    address public immutable issuer;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlacklisted;

    constructor(string memory name_, string memory symbol_) {
        name = name_;
        symbol = symbol_;
        issuer = msg.sender;
    }

    /// @notice Test helper: anyone may mint.
    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    /// @notice Block `account` from sending and receiving.
    function blacklist(address account) external {
        if (msg.sender != issuer) revert NotIssuer(msg.sender);
        isBlacklisted[account] = true;
        emit Blacklisted(account);
    }

    /// @notice Lift a blacklisting: `account` may send and receive again.
    function unBlacklist(address account) external {
        if (msg.sender != issuer) revert NotIssuer(msg.sender);
        isBlacklisted[account] = false;
        emit UnBlacklisted(account);
    }

    function approve(address spender, uint256 value) external returns (bool) {
        require(!isBlacklisted[msg.sender] && !isBlacklisted[spender], "Blacklistable: account is blacklisted");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "ERC20: transfer amount exceeds allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(!isBlacklisted[from] && !isBlacklisted[to], "Blacklistable: account is blacklisted");
        require(to != address(0), "ERC20: transfer to the zero address");
        uint256 balance = balanceOf[from];
        require(balance >= value, "ERC20: transfer amount exceeds balance");
        // Safe: checked just above.
        unchecked {
            balanceOf[from] = balance - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}

/// @title DemoUSDT
/// @notice A USDT-like token (Ethereum's TetherToken quirks): `transfer`, `transferFrom` and
///         `approve` return nothing, and `approve` from one non-zero allowance to another reverts
///         (set it to zero first). 6 decimals, open `mint`. Never deploy it on a real network.
contract DemoUSDT {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public name;
    string public symbol;
    uint8 public constant decimals = 6;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    constructor(string memory name_, string memory symbol_) {
        name = name_;
        symbol = symbol_;
    }

    /// @notice Test helper: anyone may mint.
    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function approve(address spender, uint256 value) external {
        // TetherToken: "To change the approve amount you first have to reduce the addresses'
        // allowance to zero" (front-running mitigation).
        require(!(value != 0 && allowance[msg.sender][spender] != 0));
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function transfer(address to, uint256 value) external {
        _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value);
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
    }

    function _move(address from, address to, uint256 value) private {
        uint256 balance = balanceOf[from];
        require(balance >= value);
        // Safe: checked just above.
        unchecked {
            balanceOf[from] = balance - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
