// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title NaiveHashStore
 * @dev Benchmark baseline only, never deployed by the gateway: the design that
 * {ProvenanceLedger} avoids, which keeps one hash per event on chain (one storage slot each),
 * so that its cost grows with the number of events. Deliberately minimal (no access control,
 * no checks), which makes it a lower bound on what such a design costs.
 */
contract NaiveHashStore {
    /// @dev Emitted once per call: `count` hashes stored from index `firstIndex` on.
    event HashesStored(uint256 firstIndex, uint256 count);

    uint256 private _count;
    mapping(uint256 index => bytes32 eventHash) private _hashes;

    /**
     * @dev Stores `eventHashes` at the next indices.
     *
     * Emits a {HashesStored} event.
     */
    function store(bytes32[] calldata eventHashes) external {
        uint256 first = _count;
        for (uint256 i = 0; i < eventHashes.length; ++i) {
            _hashes[first + i] = eventHashes[i];
        }
        _count = first + eventHashes.length;
        emit HashesStored(first, eventHashes.length);
    }

    /// @dev Returns the hash stored at `index` (zero if none).
    function hashAt(uint256 index) external view returns (bytes32) {
        return _hashes[index];
    }

    /// @dev Returns the number of hashes stored.
    function count() external view returns (uint256) {
        return _count;
    }
}
