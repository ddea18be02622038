/** The open log: C2SP signed checkpoints, tiles and proofs (DESIGN.md, "The open log — C2SP for monitors"). */
export { OpenLogError, type OpenLogErrorCode } from "./errors";
export { decodeBase64Strict, formatCheckpoint, noteKeyId, noteSignerFromSeed, openCheckpoint, openNote, parseCheckpoint, parseVerifierKey, signNote, verifierKey, type CheckpointBody, type NoteSigner, type NoteVerifier } from "./note";
export { defaultOrigin, loadNoteSigner, noteVerifierKey } from "./note-key";
export { CheckpointSigner, type SignedCheckpoint } from "./note-signer";
export { OpenLog, type OpenLogParameters } from "./open-log";
export { canReadWholeLog, createOpenLogRouter, tlogProofOf } from "./routes";
export { decodeEntryBundle, encodeEntryBundle, encodeTileIndex, parseTilePath, splitTile, tilePath, tilesOf, tileWidthAt, type TileId } from "./tiles";
export { TileStore } from "./tile-store";
export { formatTlogProof, parseTlogProof, type TlogProof } from "./tlog-proof";
