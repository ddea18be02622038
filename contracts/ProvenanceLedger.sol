// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IProvenanceLedger} from "./IProvenanceLedger.sol";
import {RFC9162} from "./RFC9162.sol";

/**
 * @title ProvenanceLedger
 * @dev Registry of RFC 9162 Merkle logs and their verified checkpoint history; see
 * {IProvenanceLedger}.
 *
 * Roles:
 *
 * - `DEFAULT_ADMIN_ROLE` manages the roles and pauses or unpauses the ledger.
 * - `LOG_ADMIN_ROLE` registers logs and changes their anchorers and note keys.
 * - each log's anchorer (not a role: one address per log) anchors that log's checkpoints.
 *
 * Pausing stops anchoring only. Registering logs and changing anchorers stay possible while
 * paused, so that a compromised anchor key can be replaced before anchoring resumes.
 *
 * Storage: per log, one slot holds the anchorer and the last anchored size; per checkpoint,
 * two slots hold the root and (block time, block number, previous size). Anchoring therefore
 * writes the same slots whatever the number of leaves a checkpoint adds.
 */
contract ProvenanceLedger is IProvenanceLedger, AccessControl, Pausable {
    /// @dev Role allowed to register logs and change their anchorers.
    bytes32 public constant LOG_ADMIN_ROLE = keccak256("LOG_ADMIN_ROLE");

    struct LogRecord {
        address anchorer; // zero if and only if the log is not registered
        uint64 latestTreeSize; // zero until the first checkpoint
        string name;
        string adminCode;
    }

    struct Checkpoint {
        bytes32 rootHash; // zero if and only if not anchored
        uint64 anchoredAt;
        uint64 blockNumber;
        uint64 previousTreeSize;
    }

    mapping(bytes32 logId => LogRecord) private _logs;
    mapping(bytes32 logId => mapping(uint256 treeSize => Checkpoint)) private _checkpoints;
    // Apart from LogRecord so that anchoring, which reads the record, reads no extra slot.
    mapping(bytes32 logId => bytes32 publicKey) private _noteKeys;

    /**
     * @dev Throws if the caller is not the anchorer of log `logId`, or the log is not registered.
     */
    modifier onlyAnchorer(bytes32 logId) {
        _checkAnchorer(logId);
        _;
    }

    /**
     * @dev Grants `initialAdmin` the default admin role and the log admin role.
     *
     * Requirements:
     *
     * - `initialAdmin` must not be the zero address.
     */
    constructor(address initialAdmin) {
        if (initialAdmin == address(0)) revert ProvenanceLedgerInvalidAdmin(initialAdmin);
        _grantRole(DEFAULT_ADMIN_ROLE, initialAdmin);
        _grantRole(LOG_ADMIN_ROLE, initialAdmin);
    }

    // --- Log registry -------------------------------------------------------------------------

    /// @inheritdoc IProvenanceLedger
    function registerLog(
        bytes32 logId,
        address anchorer,
        string calldata name,
        string calldata adminCode
    ) external onlyRole(LOG_ADMIN_ROLE) {
        if (logId == bytes32(0)) revert ProvenanceLedgerInvalidLogId(logId);
        if (anchorer == address(0)) revert ProvenanceLedgerInvalidAnchorer(anchorer);
        LogRecord storage log = _logs[logId];
        if (log.anchorer != address(0)) revert ProvenanceLedgerLogExists(logId);

        log.anchorer = anchorer;
        log.name = name;
        log.adminCode = adminCode;
        emit LogRegistered(logId, anchorer, name, adminCode);
    }

    /// @inheritdoc IProvenanceLedger
    function setAnchorer(bytes32 logId, address anchorer) external onlyRole(LOG_ADMIN_ROLE) {
        if (anchorer == address(0)) revert ProvenanceLedgerInvalidAnchorer(anchorer);
        LogRecord storage log = _requireRegistered(logId);

        address previous = log.anchorer;
        if (previous == anchorer) return;
        log.anchorer = anchorer;
        emit AnchorerChanged(logId, previous, anchorer);
    }

    /// @inheritdoc IProvenanceLedger
    function setLogNoteKey(bytes32 logId, bytes32 publicKey) external onlyRole(LOG_ADMIN_ROLE) {
        if (publicKey == bytes32(0)) revert ProvenanceLedgerInvalidNoteKey(logId, publicKey);
        _requireRegistered(logId);

        bytes32 previous = _noteKeys[logId];
        if (previous == publicKey) return;
        _noteKeys[logId] = publicKey;
        emit LogNoteKeyChanged(logId, previous, publicKey);
    }

    /// @inheritdoc IProvenanceLedger
    function logNoteKey(bytes32 logId) external view returns (bytes32) {
        return _noteKeys[logId];
    }

    /// @inheritdoc IProvenanceLedger
    function logInfo(
        bytes32 logId
    ) external view returns (address anchorer, string memory name, string memory adminCode) {
        LogRecord storage log = _requireRegistered(logId);
        return (log.anchorer, log.name, log.adminCode);
    }

    // --- Checkpoints --------------------------------------------------------------------------

    /// @inheritdoc IProvenanceLedger
    function anchor(
        bytes32 logId,
        uint256 treeSize,
        bytes32 rootHash,
        bytes32[] calldata consistencyProof
    ) external whenNotPaused onlyAnchorer(logId) {
        LogRecord storage log = _logs[logId];
        uint256 anchoredSize = log.latestTreeSize;
        if (treeSize <= anchoredSize) revert ProvenanceLedgerTreeNotGrowing(logId, anchoredSize, treeSize);
        if (treeSize > type(uint64).max) revert ProvenanceLedgerTreeSizeTooLarge(logId, treeSize);
        if (rootHash == bytes32(0)) revert ProvenanceLedgerInvalidRootHash(logId, rootHash);

        if (anchoredSize == 0) {
            if (consistencyProof.length != 0) {
                revert ProvenanceLedgerUnexpectedProof(logId, consistencyProof.length);
            }
        } else {
            bytes32 anchoredRoot = _checkpoints[logId][anchoredSize].rootHash;
            if (!RFC9162.verifyConsistency(anchoredSize, treeSize, anchoredRoot, rootHash, consistencyProof)) {
                revert ProvenanceLedgerInconsistentCheckpoint(logId, anchoredSize, anchoredRoot, treeSize, rootHash);
            }
        }

        _checkpoints[logId][treeSize] = Checkpoint({
            rootHash: rootHash,
            anchoredAt: uint64(block.timestamp),
            blockNumber: uint64(block.number),
            previousTreeSize: uint64(anchoredSize)
        });
        log.latestTreeSize = uint64(treeSize);
        emit CheckpointAnchored(logId, treeSize, rootHash, anchoredSize);
    }

    /// @inheritdoc IProvenanceLedger
    function latest(bytes32 logId) external view returns (uint256 treeSize, bytes32 rootHash) {
        treeSize = _requireRegistered(logId).latestTreeSize;
        rootHash = _checkpoints[logId][treeSize].rootHash;
    }

    /// @inheritdoc IProvenanceLedger
    function rootAt(bytes32 logId, uint256 treeSize) external view returns (bytes32) {
        return _checkpoints[logId][treeSize].rootHash;
    }

    /// @inheritdoc IProvenanceLedger
    function checkpointAt(
        bytes32 logId,
        uint256 treeSize
    ) external view returns (bytes32 rootHash, uint64 anchoredAt, uint64 blockNumber, uint64 previousTreeSize) {
        Checkpoint storage checkpoint = _checkpoints[logId][treeSize];
        return (checkpoint.rootHash, checkpoint.anchoredAt, checkpoint.blockNumber, checkpoint.previousTreeSize);
    }

    /// @inheritdoc IProvenanceLedger
    function verifyInclusion(
        bytes32 logId,
        uint256 treeSize,
        uint256 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _checkpoints[logId][treeSize].rootHash;
        if (root == bytes32(0)) return false;
        return RFC9162.verifyInclusion(leafIndex, treeSize, leafHash, proof, root);
    }

    // --- Pausing ------------------------------------------------------------------------------

    /**
     * @dev Stops anchoring on every log.
     *
     * Requirements:
     *
     * - the caller must have the default admin role.
     * - the contract must not be paused.
     *
     * Emits a {Paused} event.
     */
    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    /**
     * @dev Resumes anchoring.
     *
     * Requirements:
     *
     * - the caller must have the default admin role.
     * - the contract must be paused.
     *
     * Emits an {Unpaused} event.
     */
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // --- Introspection ------------------------------------------------------------------------

    /// @inheritdoc AccessControl
    function supportsInterface(bytes4 interfaceId) public view virtual override returns (bool) {
        return interfaceId == type(IProvenanceLedger).interfaceId || super.supportsInterface(interfaceId);
    }

    // --- Internal -----------------------------------------------------------------------------

    /**
     * @dev Reverts with {ProvenanceLedgerUnknownLog} if log `logId` is not registered, and with
     * {ProvenanceLedgerUnauthorizedAnchorer} if the caller is not its anchorer.
     */
    function _checkAnchorer(bytes32 logId) internal view {
        address anchorer = _requireRegistered(logId).anchorer;
        if (_msgSender() != anchorer) revert ProvenanceLedgerUnauthorizedAnchorer(logId, _msgSender());
    }

    /**
     * @dev Returns the record of log `logId`; reverts with {ProvenanceLedgerUnknownLog} if the
     * log is not registered.
     */
    function _requireRegistered(bytes32 logId) internal view returns (LogRecord storage log) {
        log = _logs[logId];
        if (log.anchorer == address(0)) revert ProvenanceLedgerUnknownLog(logId);
    }
}
