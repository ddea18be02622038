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
  "function paused() view returns (bool)",
  "event CheckpointAnchored(bytes32 indexed logId, uint256 indexed treeSize, bytes32 rootHash, uint256 previousTreeSize)",
] as const;

/** Only the fixed views that DESIGN.md promises outside verifiers. */
export const VERIFIER_ABI = LEDGER_ABI.filter((f) => /function (latest|rootAt|verifyInclusion)\(/.test(f));
