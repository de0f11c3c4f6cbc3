// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// Test-only contracts for the TRON tests (never deployed anywhere but a test chain), compiled for
// cancun like the disburser by `python scripts/build_artifacts.py tron-probe` into Probe.json.

/// @title Probe
/// @notice Exercises the local TRON node: storage, events, reverts, an energy burner, transient
///         storage, CREATE2 and nested calls.
contract Probe {
    uint256 public value;
    mapping(address => uint256) public credits;

    event Stored(address indexed by, uint256 value);

    error Refused(uint256 code);

    constructor(uint256 initial) payable {
        value = initial;
    }

    function store(uint256 newValue) external {
        value = newValue;
        emit Stored(msg.sender, newValue);
    }

    function credit(address who, uint256 amount) external {
        credits[who] += amount;
    }

    function fail(string calldata why) external pure {
        revert(why);
    }

    /// @notice Writes, then reverts: a transaction (not a constant call) that must leave nothing.
    function refuse(uint256 code) external {
        value = code;
        revert Refused(code);
    }

    /// @notice Writes `rounds` fresh storage slots (20,000 energy each on TRON).
    function burn(uint256 rounds) external {
        for (uint256 i; i < rounds; ++i) {
            credits[address(uint160(i + 1))] = i + 1;
        }
    }

    function transientRoundTrip(uint256 input) external returns (uint256 output) {
        // Assembly: exercises TSTORE/TLOAD, which the node must keep available (cancun).
        assembly {
            tstore(0, input)
            output := tload(0)
        }
    }

    function deploy(bytes32 salt) external returns (address) {
        return address(new Child{salt: salt}());
    }

    function callChild(Child child) external view returns (uint256) {
        return child.ping();
    }

    function sender() external view returns (address) {
        return msg.sender;
    }

    function chainInfo() external view returns (uint256 number, uint256 time, uint256 price) {
        return (block.number, block.timestamp, tx.gasprice);
    }

    function pay(address payable to) external payable {
        to.transfer(msg.value);
    }
}

/// @notice Created by Probe.deploy with CREATE2.
contract Child {
    function ping() external pure returns (uint256) {
        return 42;
    }
}

/// @title RecipientBlockingUSDT
/// @notice TEST ONLY. Behaves like Tether USD on TRON wherever a payout can tell (6 decimals;
///         `transfer` returns false on success, `transferFrom` true; failures revert without a
///         reason; `approve` refuses to turn one non-zero allowance into another) and adds a
///         test hook the real token does not have: `blockRecipient(who)` makes every transfer TO
///         `who` revert. TRON's USDT blacklists senders only, and in a batch the sender is the
///         disburser, so this hook is how a test makes exactly one transfer of a batch fail
///         (skip-and-report mode). `mint` and `blockRecipient` are open to anyone.
contract RecipientBlockingUSDT {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    string public constant name = "Tether USD (recipient-blocking test token)";
    string public constant symbol = "USDT";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isRecipientBlocked;

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
        totalSupply += value;
        emit Transfer(address(0), to, value);
    }

    /// @notice Test hook: from now on every transfer to `who` reverts.
    function blockRecipient(address who) external {
        isRecipientBlocked[who] = true;
    }

    /// @notice Moves the tokens and returns false: the value TRON's USDT really returns.
    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return false;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 current = allowance[from][msg.sender];
        require(current >= value);
        allowance[from][msg.sender] = current - value;
        _move(from, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        require(value == 0 || allowance[msg.sender][spender] == 0);
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(!isRecipientBlocked[to]);
        uint256 balance = balanceOf[from];
        require(balance >= value);
        balanceOf[from] = balance - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
