/**
 * RFC 9162 (Certificate Transparency v2) Merkle tree: hashing, proofs, verification,
 * and the LevelDB-backed incremental tree.
 */
export { EMPTY_ROOT, hashChildren, hashLeaf } from "./hash";
export {
  MerkleError,
  isProofFailure,
  type MerkleErrorCode,
  type MerkleErrorParameters,
} from "./errors";
export {
  consistencyProof,
  consistencyProofFromLeafHashes,
  consistencyRanges,
  inclusionProof,
  inclusionProofFromLeafHashes,
  inclusionRanges,
  rootFromLeafHashes,
  rootHash,
} from "./proof";
export {
  assertConsistency,
  assertInclusion,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from "./verify";
export {
  appendToFrontier,
  frontierNodes,
  rangeNodes,
  rootOfPerfectSubtrees,
  type LeafRange,
  type NodeId,
  type NodeVisitor,
} from "./compact";
export {
  MerkleTreeStore,
  storedTreeReader,
  type StoredTreeReader,
  type MerkleStoreScanDb,
  type ByteEncodings,
  type MerkleStoreDb,
  type MerkleTreeStoreOptions,
  type PutOperation,
} from "./tree-store";
