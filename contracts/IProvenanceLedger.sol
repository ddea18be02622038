// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IProvenanceLedger
 * @dev A registry of append-only RFC 9162 Merkle logs and of their verified checkpoint history.
 *
 * Each log, keyed by a `bytes32` id, has one anchorer: the only account that may anchor its
 * checkpoints. A checkpoint is a (tree size, root hash) pair; a new checkpoint is accepted only
 * for a larger tree and only with an RFC 9162 consistency proof from the last anchored one,
 * verified on chain, so the ledger refuses any rewrite of a log's history.
 *
 * The signatures of {anchor}, {latest}, {rootAt} and {verifyInclusion} are fixed: outside
 * verifiers call them. Tree sizes are `uint256` in the ABI and must fit in 64 bits.
 */
interface IProvenanceLedger {
    // --- Errors -------------------------------------------------------------------------------

    /// @dev `logId` is not a registered log.
    error ProvenanceLedgerUnknownLog(bytes32 logId);

    /// @dev A log with id `logId` is already registered.
    error ProvenanceLedgerLogExists(bytes32 logId);

    /// @dev `logId` is zero, which is not a valid log id.
    error ProvenanceLedgerInvalidLogId(bytes32 logId);

    /// @dev `anchorer` (the zero address) cannot be a log's anchorer.
    error ProvenanceLedgerInvalidAnchorer(address anchorer);

    /// @dev `publicKey` (zero) cannot be a log's note key.
    error ProvenanceLedgerInvalidNoteKey(bytes32 logId, bytes32 publicKey);

    /// @dev `admin` (the zero address) cannot be the initial admin.
    error ProvenanceLedgerInvalidAdmin(address admin);

    /// @dev `account` is not the anchorer of log `logId`.
    error ProvenanceLedgerUnauthorizedAnchorer(bytes32 logId, address account);

    /// @dev `treeSize` is not larger than `anchoredSize`, the last anchored size of log `logId`.
    error ProvenanceLedgerTreeNotGrowing(bytes32 logId, uint256 anchoredSize, uint256 treeSize);

    /// @dev `treeSize` does not fit in 64 bits, the most the ledger stores.
    error ProvenanceLedgerTreeSizeTooLarge(bytes32 logId, uint256 treeSize);

    /// @dev `rootHash` is zero, which the ledger reserves for "not anchored".
    error ProvenanceLedgerInvalidRootHash(bytes32 logId, bytes32 rootHash);

    /// @dev The first checkpoint of log `logId` was sent with a consistency proof of
    /// `proofLength` nodes; it must be sent with none.
    error ProvenanceLedgerUnexpectedProof(bytes32 logId, uint256 proofLength);

    /// @dev The consistency proof does not show that the tree (`treeSize`, `rootHash`) extends
    /// the last anchored tree (`anchoredSize`, `anchoredRoot`) of log `logId`.
    error ProvenanceLedgerInconsistentCheckpoint(
        bytes32 logId,
        uint256 anchoredSize,
        bytes32 anchoredRoot,
        uint256 treeSize,
        bytes32 rootHash
    );

    // --- Events -------------------------------------------------------------------------------

    /// @dev Emitted when log `logId` is registered with anchorer `anchorer`.
    event LogRegistered(bytes32 indexed logId, address indexed anchorer, string name, string adminCode);

    /// @dev Emitted when the anchorer of log `logId` changes from `previousAnchorer` to `newAnchorer`.
    event AnchorerChanged(bytes32 indexed logId, address indexed previousAnchorer, address indexed newAnchorer);

    /// @dev Emitted when the Ed25519 public key that signs the checkpoint notes of log `logId`
    /// changes from `previousKey` (zero if none) to `newKey`.
    event LogNoteKeyChanged(bytes32 indexed logId, bytes32 previousKey, bytes32 newKey);

    /// @dev Emitted when the checkpoint (`treeSize`, `rootHash`) of log `logId` is anchored.
    /// `previousTreeSize` is the size of the checkpoint it extends, 0 for the log's first.
    event CheckpointAnchored(bytes32 indexed logId, uint256 indexed treeSize, bytes32 rootHash, uint256 previousTreeSize);

    // --- Log registry -------------------------------------------------------------------------

    /**
     * @dev Registers log `logId`, whose checkpoints only `anchorer` may anchor. `name` and
     * `adminCode` (the administrative division code of the log's owner) are descriptive
     * metadata, stored and emitted as given.
     *
     * Requirements:
     *
     * - the caller must have the log admin role.
     * - `logId` must not be zero.
     * - `logId` must not be registered already.
     * - `anchorer` must not be the zero address.
     *
     * Emits a {LogRegistered} event.
     */
    function registerLog(bytes32 logId, address anchorer, string calldata name, string calldata adminCode) external;

    /**
     * @dev Makes `anchorer` the only account that may anchor checkpoints of log `logId`.
     * Setting the current anchorer again changes nothing and emits nothing.
     *
     * Requirements:
     *
     * - the caller must have the log admin role.
     * - `logId` must be registered.
     * - `anchorer` must not be the zero address.
     *
     * Emits an {AnchorerChanged} event if the anchorer changes.
     */
    function setAnchorer(bytes32 logId, address anchorer) external;

    /**
     * @dev Returns the anchorer, name and administrative division code of log `logId`.
     *
     * Requirements:
     *
     * - `logId` must be registered.
     */
    function logInfo(bytes32 logId) external view returns (address anchorer, string memory name, string memory adminCode);

    /**
     * @dev Makes `publicKey` the Ed25519 public key (RFC 8032, 32 bytes) that signs the C2SP
     * checkpoint notes of log `logId`, so that monitors can check a note against the chain.
     * The note verifier string is `name+hex(keyID)+base64(0x01 ‖ publicKey)` with the log's
     * origin as name (c2sp.org/signed-note). Setting the current key again changes nothing and
     * emits nothing.
     *
     * Requirements:
     *
     * - the caller must have the log admin role.
     * - `logId` must be registered.
     * - `publicKey` must not be zero.
     *
     * Emits a {LogNoteKeyChanged} event if the key changes.
     */
    function setLogNoteKey(bytes32 logId, bytes32 publicKey) external;

    /**
     * @dev Returns the Ed25519 note key of log `logId`, zero if none was set (or the log is not
     * registered).
     */
    function logNoteKey(bytes32 logId) external view returns (bytes32);

    // --- Checkpoints --------------------------------------------------------------------------

    /**
     * @dev Anchors the checkpoint (`treeSize`, `rootHash`) of log `logId`. Unless it is the
     * log's first checkpoint, `consistencyProof` must be the RFC 9162 consistency proof from
     * the last anchored tree to this one. The cost depends only on the proof length (about
     * log2 `treeSize` nodes), not on how many leaves the checkpoint adds.
     *
     * Requirements:
     *
     * - the contract must not be paused.
     * - `logId` must be registered.
     * - the caller must be the log's anchorer.
     * - `treeSize` must be larger than the last anchored size and fit in 64 bits.
     * - `rootHash` must not be zero.
     * - for the log's first checkpoint, `consistencyProof` must be empty.
     * - otherwise `consistencyProof` must prove that the last anchored tree is a prefix of this one.
     *
     * Emits a {CheckpointAnchored} event.
     */
    function anchor(bytes32 logId, uint256 treeSize, bytes32 rootHash, bytes32[] calldata consistencyProof) external;

    /**
     * @dev Returns the last anchored checkpoint of log `logId`, or (0, 0) if it has none.
     *
     * Requirements:
     *
     * - `logId` must be registered.
     */
    function latest(bytes32 logId) external view returns (uint256 treeSize, bytes32 rootHash);

    /**
     * @dev Returns the anchored root of the tree of `treeSize` leaves of log `logId`, or zero
     * if that size was never anchored (or the log is not registered).
     */
    function rootAt(bytes32 logId, uint256 treeSize) external view returns (bytes32);

    /**
     * @dev Returns the checkpoint of size `treeSize` of log `logId`: its root, the timestamp
     * and number of the block that anchored it, and the size of the checkpoint anchored before
     * it (0 for the first), which lets a reader walk the history back from {latest}. All zero
     * if that size was never anchored (or the log is not registered).
     */
    function checkpointAt(
        bytes32 logId,
        uint256 treeSize
    ) external view returns (bytes32 rootHash, uint64 anchoredAt, uint64 blockNumber, uint64 previousTreeSize);

    /**
     * @dev Returns whether `proof` is an RFC 9162 inclusion proof of the leaf with hash
     * `leafHash` at `leafIndex` in the anchored tree of `treeSize` leaves of log `logId`.
     * Returns false if that size was never anchored (or the log is not registered), or if the
     * proof is malformed; never reverts on its arguments.
     */
    function verifyInclusion(
        bytes32 logId,
        uint256 treeSize,
        uint256 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool);
}
