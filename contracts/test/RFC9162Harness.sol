// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RFC9162} from "../RFC9162.sol";

/**
 * @dev Test-only contract exposing the internal functions of {RFC9162}, one case at a time or
 * in packed batches (one `eth_call` for many proofs keeps the cross-implementation tests fast).
 */
contract RFC9162Harness {
    function hashChildren(bytes32 left, bytes32 right) external view returns (bytes32) {
        return RFC9162.hashChildren(left, right);
    }

    function rootFromInclusionProof(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool wellFormed, bytes32 root) {
        return RFC9162.rootFromInclusionProof(index, size, leafHash, proof);
    }

    function verifyInclusion(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool) {
        return RFC9162.verifyInclusion(index, size, leafHash, proof, root);
    }

    function rootsFromConsistencyProof(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        bytes32[] calldata proof
    ) external view returns (bool wellFormed, bytes32 oldRootComputed, bytes32 newRootComputed) {
        return RFC9162.rootsFromConsistencyProof(oldSize, newSize, oldRoot, proof);
    }

    function verifyConsistency(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32[] calldata proof
    ) external view returns (bool) {
        return RFC9162.verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof);
    }

    /**
     * @dev Verifies `count` inclusion proofs packed back to back in `cases`, each as 32-byte
     * words: index ‖ size ‖ leafHash ‖ root ‖ proof length ‖ proof nodes. Returns one answer
     * per case. (A flat encoding: ABI-encoding thousands of structs in ethers is the slow part.)
     */
    function verifyInclusionPacked(uint256 count, bytes calldata cases) external view returns (bool[] memory results) {
        results = new bool[](count);
        uint256 at = 0;
        for (uint256 i = 0; i < count; ++i) {
            uint256 index = _word(cases, at);
            uint256 size = _word(cases, at + 0x20);
            bytes32 leafHash = bytes32(_word(cases, at + 0x40));
            bytes32 root = bytes32(_word(cases, at + 0x60));
            bytes32[] memory proof;
            (proof, at) = _proof(cases, at + 0x80);
            results[i] = RFC9162.verifyInclusion(index, size, leafHash, proof, root);
        }
        require(at == cases.length, "trailing bytes");
    }

    /**
     * @dev Verifies `count` consistency proofs packed back to back in `cases`, each as 32-byte
     * words: oldSize ‖ newSize ‖ oldRoot ‖ newRoot ‖ proof length ‖ proof nodes.
     */
    function verifyConsistencyPacked(uint256 count, bytes calldata cases) external view returns (bool[] memory results) {
        results = new bool[](count);
        uint256 at = 0;
        for (uint256 i = 0; i < count; ++i) {
            uint256 oldSize = _word(cases, at);
            uint256 newSize = _word(cases, at + 0x20);
            bytes32 oldRoot = bytes32(_word(cases, at + 0x40));
            bytes32 newRoot = bytes32(_word(cases, at + 0x60));
            bytes32[] memory proof;
            (proof, at) = _proof(cases, at + 0x80);
            results[i] = RFC9162.verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof);
        }
        require(at == cases.length, "trailing bytes");
    }

    /// @dev Gas used by one inclusion verification, excluding the call and calldata.
    function measureVerifyInclusion(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) external view returns (bool ok, uint256 gasUsed) {
        bytes32[] memory copy = proof;
        uint256 before = gasleft();
        ok = RFC9162.verifyInclusion(index, size, leafHash, copy, root);
        gasUsed = before - gasleft();
    }

    function _word(bytes calldata data, uint256 at) private pure returns (uint256) {
        return uint256(bytes32(data[at:at + 0x20]));
    }

    function _proof(bytes calldata data, uint256 at) private pure returns (bytes32[] memory proof, uint256 next) {
        uint256 length = _word(data, at);
        next = at + 0x20;
        proof = new bytes32[](length);
        for (uint256 j = 0; j < length; ++j) {
            proof[j] = bytes32(data[next:next + 0x20]);
            next += 0x20;
        }
    }
}
