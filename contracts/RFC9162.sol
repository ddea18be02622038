// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title RFC9162
 * @dev Verification of RFC 9162 (Certificate Transparency v2) Merkle tree proofs.
 *
 * The tree hashes with SHA-256: a leaf hash is `SHA-256(0x00 ‖ leaf)` (computed off chain; this
 * library only ever sees leaf hashes) and an interior node is `SHA-256(0x01 ‖ left ‖ right)`.
 *
 * The verification algorithms are those of RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
 * (consistency), step by step. Each check comes as a pair, as in transparency-dev/merkle and
 * OpenZeppelin's `MerkleProof`: a function that computes root(s) from a proof, and a `verify*`
 * function that calls it and compares.
 *
 * Proofs are attacker-controlled input. A malformed proof (wrong length, index out of range,
 * sizes out of order) makes the functions return `false`; they never revert on their input.
 * The work is bounded by the proof length, and every step halves a tree size, so an overlong
 * proof is rejected after at most 256 steps (in practice about log2(size) + 1).
 *
 * Gas: the proof loops are in assembly. SHA-256 is the precompile at address 0x02, called with
 * `staticcall` on one 65-byte buffer in free memory whose first byte holds the 0x01 node
 * prefix, rewritten in place for each node: about 390 gas per inclusion proof node (about 200
 * of them the precompile call), against about 850 for the same loop in Solidity with
 * `sha256(abi.encodePacked(bytes1(0x01), l, r))`, which allocates a fresh buffer for each node. "Right-shift fn and sn until LSB(fn) is set" is one division
 * of both by the lowest set bit of fn. The functions are `view` rather than `pure` only
 * because Solidity counts a `staticcall` as reading state.
 */
library RFC9162 {
    /// @dev Address of the SHA-256 precompile.
    uint256 private constant _SHA256 = 0x02;

    /// @dev Length of an interior node's preimage: 0x01 ‖ left ‖ right.
    uint256 private constant _NODE_PREIMAGE_LENGTH = 65;

    /// @dev The root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
    bytes32 internal constant EMPTY_ROOT = 0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;

    /**
     * @dev Returns the interior node hash `SHA-256(0x01 ‖ left ‖ right)`.
     */
    function hashChildren(bytes32 left, bytes32 right) internal view returns (bytes32 digest) {
        assembly ("memory-safe") {
            // Preimage 0x01 ‖ left ‖ right in free memory (65 bytes, not kept).
            let buffer := mload(0x40)
            mstore8(buffer, 0x01)
            mstore(add(buffer, 0x01), left)
            mstore(add(buffer, 0x21), right)
            // The precompile cannot fail on valid input; a failure means it ran out of gas.
            if iszero(staticcall(gas(), _SHA256, buffer, _NODE_PREIMAGE_LENGTH, 0x00, 0x20)) {
                revert(0x00, 0x00)
            }
            digest := mload(0x00)
        }
    }

    /**
     * @dev Returns whether `proof` proves that `leafHash` is the leaf at `index` in the tree of
     * `size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
     *
     * Returns false, without reverting, when `index >= size` or the proof has the wrong length.
     */
    function verifyInclusion(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] memory proof,
        bytes32 root
    ) internal view returns (bool) {
        (bool wellFormed, bytes32 computed) = rootFromInclusionProof(index, size, leafHash, proof);
        return wellFormed && computed == root;
    }

    /**
     * @dev Computes the root of the tree of `size` leaves in which `leafHash` is the leaf at
     * `index`, from the inclusion proof `proof` (RFC 9162 §2.1.3.2, steps 1 to 4).
     *
     * Returns `(false, 0)` when the proof cannot be an inclusion proof for (`index`, `size`):
     * `index >= size`, or a proof too short or too long for the tree shape. Otherwise returns
     * `(true, root)`; the caller compares `root` with a trusted root (step 5).
     */
    function rootFromInclusionProof(
        uint256 index,
        uint256 size,
        bytes32 leafHash,
        bytes32[] memory proof
    ) internal view returns (bool wellFormed, bytes32 root) {
        // Step 1.
        if (index >= size) return (false, bytes32(0));

        assembly ("memory-safe") {
            // Steps 2 and 3. `size - 1` cannot underflow: size > index >= 0.
            let fn := index
            let sn := sub(size, 1)
            let r := leafHash

            // Preimage buffer 0x01 ‖ left ‖ right in free memory (65 bytes, not kept).
            let buffer := mload(0x40)
            mstore8(buffer, 0x01)
            let left := add(buffer, 0x01)
            let right := add(buffer, 0x21)

            // Step 4: for each value p in the proof.
            wellFormed := 1
            let end := add(add(proof, 0x20), shl(5, mload(proof)))
            for { let p := add(proof, 0x20) } lt(p, end) { p := add(p, 0x20) } {
                if iszero(sn) {
                    wellFormed := 0
                    break
                }
                switch or(and(fn, 1), eq(fn, sn))
                case 0 {
                    // r = HASH(0x01 ‖ r ‖ p)
                    mstore(left, r)
                    mstore(right, mload(p))
                }
                default {
                    // r = HASH(0x01 ‖ p ‖ r); then, if LSB(fn) is not set, right-shift fn and sn
                    // until it is: divide both by the lowest set bit of fn (1 when fn is odd;
                    // fn is not 0 here, since fn == sn and sn is not 0).
                    mstore(left, mload(p))
                    mstore(right, r)
                    let lowest := and(fn, sub(0, fn))
                    fn := div(fn, lowest)
                    sn := div(sn, lowest)
                }
                // The precompile cannot fail on valid input; a failure means it ran out of gas.
                if iszero(staticcall(gas(), _SHA256, buffer, _NODE_PREIMAGE_LENGTH, 0x00, 0x20)) {
                    revert(0x00, 0x00)
                }
                r := mload(0x00)
                fn := shr(1, fn)
                sn := shr(1, sn)
            }

            // Step 5, first half: the proof must have consumed the whole path.
            if sn {
                wellFormed := 0
            }
            if wellFormed {
                root := r
            }
        }
    }

    /**
     * @dev Returns whether `proof` proves that the tree of `oldSize` leaves with root `oldRoot`
     * is a prefix of the tree of `newSize` leaves with root `newRoot` (RFC 9162 §2.1.4.2).
     *
     * RFC 9162 defines the algorithm for `0 < oldSize < newSize`. Beyond that, as in the
     * TypeScript module `server/merkle` and transparency-dev/merkle:
     *
     * - `oldSize == newSize`: the proof must be empty and the roots equal;
     * - `oldSize == 0`: every tree extends the empty one, so the proof must be empty and
     *   `oldRoot` must be {EMPTY_ROOT}; `newRoot` is then unconstrained unless `newSize` is 0.
     *
     * Returns false, without reverting, for `oldSize > newSize` and malformed proofs.
     */
    function verifyConsistency(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32[] memory proof
    ) internal view returns (bool) {
        if (oldSize > newSize) return false;
        if (oldSize == 0 || oldSize == newSize) {
            if (proof.length != 0) return false;
            if (oldSize == 0 && oldRoot != EMPTY_ROOT) return false;
            return oldSize != newSize || newRoot == oldRoot;
        }
        (bool wellFormed, bytes32 computedOld, bytes32 computedNew) = rootsFromConsistencyProof(
            oldSize,
            newSize,
            oldRoot,
            proof
        );
        return wellFormed && computedOld == oldRoot && computedNew == newRoot;
    }

    /**
     * @dev Computes, from the consistency proof `proof`, the roots of the trees of `oldSize`
     * and `newSize` leaves (RFC 9162 §2.1.4.2, steps 1 to 6: `fr` and `sr`).
     *
     * `oldRoot` is needed only when `oldSize` is a power of two, where the RFC prepends it to
     * the proof; the returned `oldRootComputed` is then `oldRoot` itself. The caller compares
     * both returned roots with trusted roots (step 7).
     *
     * Defined, as in the RFC, for `0 < oldSize < newSize`; returns `(false, 0, 0)` for other
     * sizes (see {verifyConsistency} for those) and when the proof cannot be a consistency
     * proof between these sizes: empty, or too short or too long for the tree shapes.
     */
    function rootsFromConsistencyProof(
        uint256 oldSize,
        uint256 newSize,
        bytes32 oldRoot,
        bytes32[] memory proof
    ) internal view returns (bool wellFormed, bytes32 oldRootComputed, bytes32 newRootComputed) {
        if (oldSize == 0 || oldSize >= newSize) return (false, bytes32(0), bytes32(0));

        // Step 1.
        uint256 length = proof.length;
        if (length == 0) return (false, bytes32(0), bytes32(0));

        // Steps 2 and 5: when oldSize is a power of two, its root is the first proof node.
        uint256 next;
        bytes32 fr;
        if (oldSize & (oldSize - 1) == 0) {
            fr = oldRoot;
        } else {
            fr = proof[0];
            next = 1;
        }

        assembly ("memory-safe") {
            let sr := fr

            // Step 3.
            let fn := sub(oldSize, 1)
            let sn := sub(newSize, 1)

            // Step 4: if LSB(fn) is set, right-shift fn and sn until it is not: divide both by
            // the lowest set bit of fn + 1 (1 when fn is even). fn + 1 = oldSize cannot overflow.
            let lowest := and(oldSize, sub(0, oldSize))
            fn := div(fn, lowest)
            sn := div(sn, lowest)

            // Preimage buffer 0x01 ‖ left ‖ right in free memory (65 bytes, not kept).
            let buffer := mload(0x40)
            mstore8(buffer, 0x01)

            // Step 6: for each subsequent value c in the proof.
            wellFormed := 1
            let end := add(add(proof, 0x20), shl(5, length))
            for { let p := add(add(proof, 0x20), shl(5, next)) } lt(p, end) { p := add(p, 0x20) } {
                if iszero(sn) {
                    wellFormed := 0
                    break
                }
                switch or(and(fn, 1), eq(fn, sn))
                case 0 {
                    // sr = HASH(0x01 ‖ sr ‖ c)
                    mstore(add(buffer, 0x01), sr)
                    mstore(add(buffer, 0x21), mload(p))
                    if iszero(staticcall(gas(), _SHA256, buffer, _NODE_PREIMAGE_LENGTH, 0x00, 0x20)) {
                        revert(0x00, 0x00)
                    }
                    sr := mload(0x00)
                }
                default {
                    // fr = HASH(0x01 ‖ c ‖ fr); sr = HASH(0x01 ‖ c ‖ sr)
                    mstore(add(buffer, 0x01), mload(p))
                    mstore(add(buffer, 0x21), fr)
                    if iszero(staticcall(gas(), _SHA256, buffer, _NODE_PREIMAGE_LENGTH, 0x00, 0x20)) {
                        revert(0x00, 0x00)
                    }
                    fr := mload(0x00)
                    mstore(add(buffer, 0x21), sr)
                    if iszero(staticcall(gas(), _SHA256, buffer, _NODE_PREIMAGE_LENGTH, 0x00, 0x20)) {
                        revert(0x00, 0x00)
                    }
                    sr := mload(0x00)
                    // If LSB(fn) is not set, right-shift fn and sn until it is (fn is not 0 here).
                    lowest := and(fn, sub(0, fn))
                    fn := div(fn, lowest)
                    sn := div(sn, lowest)
                }
                fn := shr(1, fn)
                sn := shr(1, sn)
            }

            // Step 7, first part: the proof must have consumed the whole path of the new tree.
            if sn {
                wellFormed := 0
            }
            if wellFormed {
                oldRootComputed := fr
                newRootComputed := sr
            }
        }
    }
}
