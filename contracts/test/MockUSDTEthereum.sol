// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MockUSDTEthereum
/// @notice Reproduces the behaviour of Tether USD on Ethereum (TetherToken, 0x dAC1...1ec7) that
///         batch contracts trip over:
///         - `transfer`, `transferFrom` and `approve` return nothing (no bool);
///         - `approve` reverts when both the current and the new allowance are non-zero;
///         - failures revert without a reason string;
///         - a blacklist blocks the sender (`transfer`) or the `from` account (`transferFrom`);
///         - the owner can pause all transfers;
///         - fee parameters: `basisPointsRate` of the amount, capped at `maximumFee`, is taken from
///           the amount the recipient receives and credited to the owner (zero on mainnet today).
///         An open `mint` funds test accounts.
contract MockUSDTEthereum {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event AddedBlackList(address user);
    event RemovedBlackList(address user);
    event Pause();
    event Unpause();
    event Params(uint256 feeBasisPoints, uint256 maxFee);

    string public name = "Tether USD";
    string public symbol = "USDT";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    address public owner;
    bool public paused;
    uint256 public basisPointsRate;
    uint256 public maximumFee;

    mapping(address => uint256) private _balances;
    mapping(address => mapping(address => uint256)) private _allowed;
    mapping(address => bool) public isBlackListed;

    uint256 private constant _MAX_UINT = type(uint256).max;

    constructor() {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        require(msg.sender == owner);
        _;
    }

    modifier whenNotPaused() {
        require(!paused);
        _;
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

    function transfer(address to, uint256 value) external whenNotPaused {
        require(!isBlackListed[msg.sender]);
        _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external whenNotPaused {
        require(!isBlackListed[from]);
        uint256 current = _allowed[from][msg.sender];
        require(current >= value);
        if (current < _MAX_UINT) {
            _allowed[from][msg.sender] = current - value;
        }
        _move(from, to, value);
    }

    function approve(address spender, uint256 value) external {
        // The famous race-condition guard: set to zero first, then to the new value.
        require(!((value != 0) && (_allowed[msg.sender][spender] != 0)));
        _allowed[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function addBlackList(address user) external onlyOwner {
        isBlackListed[user] = true;
        emit AddedBlackList(user);
    }

    function removeBlackList(address user) external onlyOwner {
        isBlackListed[user] = false;
        emit RemovedBlackList(user);
    }

    function pause() external onlyOwner {
        paused = true;
        emit Pause();
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpause();
    }

    function setParams(uint256 newBasisPoints, uint256 newMaxFee) external onlyOwner {
        // Tether's own ceilings: below 20 basis points and below 50 tokens.
        require(newBasisPoints < 20);
        require(newMaxFee < 50);
        basisPointsRate = newBasisPoints;
        maximumFee = newMaxFee * 10 ** decimals;
        emit Params(basisPointsRate, maximumFee);
    }

    function _move(address from, address to, uint256 value) private {
        uint256 fee = (value * basisPointsRate) / 10000;
        if (fee > maximumFee) fee = maximumFee;
        uint256 balance = _balances[from];
        require(balance >= value);
        _balances[from] = balance - value;
        _balances[to] += value - fee;
        emit Transfer(from, to, value - fee);
        if (fee > 0) {
            _balances[owner] += fee;
            emit Transfer(from, owner, fee);
        }
    }
}
