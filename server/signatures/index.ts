export {
  SIGNATURE_ALGORITHMS,
  SigningKeyError,
  decodeBase64Strict,
  keyIdOf,
  parseSigningPublicKey,
  type SignatureAlgorithm,
  type SigningKeyErrorCode,
  type SigningPublicKey,
} from "./signing-key";
export { batchRoot, batchRootFromProof, batchSigningBytes, eventSigningBytes } from "./signed-bytes";
export { SM2_DEFAULT_USER_ID, parseDerSignature } from "./sm2";
