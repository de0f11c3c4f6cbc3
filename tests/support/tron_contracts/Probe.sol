// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Probe
/// @notice Test-only contract for the local TRON node: storage, events, reverts, an energy burner,
///         transient storage, CREATE2 and nested calls. Compiled for cancun like the disburser.
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
