/**
 * The part of ProvenanceLedger's ABI that the gateway and verifiers call, in
 * human-readable form so that verifying a receipt needs no compiled artifact.
 * A test checks every entry against the compiled contract.
 */
export const LEDGER_ABI = [
  "function anchor(bytes32 logId, uint256 treeSize, bytes32 rootHash, bytes32[] consistencyProof)",
  "function latest(bytes32 logId) view returns (uint256 treeSize, bytes32 rootHash)",
  "function rootAt(bytes32 logId, uint256 treeSize) view returns (bytes32)",
  "function verifyInclusion(bytes32 logId, uint256 treeSize, uint256 leafIndex, bytes32 leafHash, bytes32[] proof) view returns (bool)",
  "function registerLog(bytes32 logId, address anchorer, string name, string adminCode)",
  "function setAnchorer(bytes32 logId, address anchorer)",
  "function logInfo(bytes32 logId) view returns (address anchorer, string name, string adminCode)",
  "function paused() view returns (bool)",
  "function setLogNoteKey(bytes32 logId, bytes32 publicKey)",
  "function logNoteKey(bytes32 logId) view returns (bytes32)",
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function checkpointAt(bytes32 logId, uint256 treeSize) view returns (bytes32 rootHash, uint64 anchoredAt, uint64 blockNumber, uint64 previousTreeSize)",
  "function LOG_ADMIN_ROLE() view returns (bytes32)",
  "event LogRegistered(bytes32 indexed logId, address indexed anchorer, string name, string adminCode)",
  "event CheckpointAnchored(bytes32 indexed logId, uint256 indexed treeSize, bytes32 rootHash, uint256 previousTreeSize)",
  "event LogNoteKeyChanged(bytes32 indexed logId, bytes32 previousKey, bytes32 newKey)",
] as const;

/**
 * Every custom error ProvenanceLedger can revert with — its own and those of the
 * OpenZeppelin contracts it builds on — so that a refusal is reported by name
 * (`EnforcedPause()`) rather than as a bare selector. Kept apart from LEDGER_ABI
 * (the calls); test/reliability/chain-faults.test.ts checks them against the
 * compiled contract.
 */
export const LEDGER_ERRORS = [
  "error AccessControlBadConfirmation()",
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
  "error EnforcedPause()",
  "error ExpectedPause()",
  "error ProvenanceLedgerInconsistentCheckpoint(bytes32 logId, uint256 anchoredSize, bytes32 anchoredRoot, uint256 treeSize, bytes32 rootHash)",
  "error ProvenanceLedgerInvalidAdmin(address admin)",
  "error ProvenanceLedgerInvalidAnchorer(address anchorer)",
  "error ProvenanceLedgerInvalidLogId(bytes32 logId)",
  "error ProvenanceLedgerInvalidNoteKey(bytes32 logId, bytes32 publicKey)",
  "error ProvenanceLedgerInvalidRootHash(bytes32 logId, bytes32 rootHash)",
  "error ProvenanceLedgerLogExists(bytes32 logId)",
  "error ProvenanceLedgerTreeNotGrowing(bytes32 logId, uint256 anchoredSize, uint256 treeSize)",
  "error ProvenanceLedgerTreeSizeTooLarge(bytes32 logId, uint256 treeSize)",
  "error ProvenanceLedgerUnauthorizedAnchorer(bytes32 logId, address account)",
  "error ProvenanceLedgerUnexpectedProof(bytes32 logId, uint256 proofLength)",
  "error ProvenanceLedgerUnknownLog(bytes32 logId)",
] as const;

/** Only the fixed views that DESIGN.md promises outside verifiers. */
export const VERIFIER_ABI = LEDGER_ABI.filter((f) => /function (latest|rootAt|verifyInclusion)\(/.test(f));
