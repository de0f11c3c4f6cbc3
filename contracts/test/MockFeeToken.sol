// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MockFeeToken
/// @notice A fee-on-transfer token: a fee of `feeBasisPoints` of the amount is withheld from what
///         the recipient receives (and burned). `feeOnTransfer` / `feeOnTransferFrom` choose which
///         entry points charge it, so tests can show both the case the disburser refuses (fee on the
///         pull) and its documented blind spot (fee only on `transfer`).
contract MockFeeToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    uint256 public feeBasisPoints;
    bool public feeOnTransfer;
    bool public feeOnTransferFrom;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    constructor(uint256 feeBasisPoints_, bool onTransfer, bool onTransferFrom) {
        feeBasisPoints = feeBasisPoints_;
        feeOnTransfer = onTransfer;
        feeOnTransferFrom = onTransferFrom;
    }

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
        totalSupply += value;
        emit Transfer(address(0), to, value);
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value, feeOnTransfer);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 current = allowance[from][msg.sender];
        require(current >= value, "ERC20: insufficient allowance");
        if (current != type(uint256).max) allowance[from][msg.sender] = current - value;
        _move(from, to, value, feeOnTransferFrom);
        return true;
    }

    function _move(address from, address to, uint256 value, bool charge) private {
        require(balanceOf[from] >= value, "ERC20: transfer amount exceeds balance");
        uint256 fee = charge ? (value * feeBasisPoints) / 10000 : 0;
        balanceOf[from] -= value;
        balanceOf[to] += value - fee;
        totalSupply -= fee;
        emit Transfer(from, to, value - fee);
    }
}
