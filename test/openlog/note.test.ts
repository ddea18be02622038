/**
 * C2SP signed notes and checkpoints, against the vectors of golang.org/x/mod/sumdb/note's
 * note_test.go (the PeterNeumann key, its verifier string and its deterministic Ed25519
 * signature), so our notes are the ones Go's `note.Open` reads.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import {
  formatCheckpoint,
  noteSignerFromSeed,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  signNote,
  verifierKey,
  OpenLogError,
} from "../../server/openlog";
import { defaultOrigin } from "../../server/openlog/note-key";
import { formatTlogProof, parseTlogProof } from "../../server/openlog/tlog-proof";

// golang.org/x/mod sumdb/note/note_test.go, TestNewVerifier / TestSign.
const GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIGNED = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
// The base64 part may hold "+" itself: it is everything after the fourth "+".
const seedOf = (skey: string) => Buffer.from(skey.split("+").slice(4).join("+"), "base64").subarray(1);

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(OpenLogError);
    return (error as OpenLogError).code;
  }
  expect.fail("expected an OpenLogError");
};

describe("open log: signed notes (c2sp.org/signed-note)", () => {
  const peter = noteSignerFromSeed("PeterNeumann", seedOf(GO_SKEY));

  it("derives the Go vector's verifier key string from its private key", () => {
    expect(verifierKey(peter)).to.equal(GO_VKEY);
    expect(Buffer.from(peter.keyId).toString("hex")).to.equal("c74f20a3");
  });

  it("computes the key id as SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]", () => {
    const expected = createHash("sha256").update(Buffer.concat([Buffer.from("PeterNeumann\n"), Buffer.of(1), peter.publicKey])).digest().subarray(0, 4);
    expect(Buffer.from(peter.keyId)).to.deep.equal(expected);
  });

  it("signs exactly as Go's note.Sign does (Ed25519 is deterministic)", () => {
    expect(signNote(GO_TEXT, peter)).to.equal(GO_SIGNED);
  });

  it("opens the Go vector's signed note with the parsed verifier", () => {
    expect(openNote(GO_SIGNED, parseVerifierKey(GO_VKEY))).to.equal(GO_TEXT);
  });

  it("refuses a note signed by another key (UNKNOWN_KEY), a forged signature (BAD_SIGNATURE) and altered text", () => {
    const other = noteSignerFromSeed("PeterNeumann", Buffer.alloc(32, 7));
    expect(code(() => openNote(signNote(GO_TEXT, other), parseVerifierKey(GO_VKEY)))).to.equal("UNKNOWN_KEY");
    const forged = GO_SIGNED.replace("x08go/ZJ", "x08go/ZK");
    expect(code(() => openNote(forged, parseVerifierKey(GO_VKEY)))).to.equal("BAD_SIGNATURE");
    expect(code(() => openNote(GO_SIGNED.replace("answer", "Answer"), parseVerifierKey(GO_VKEY)))).to.equal("BAD_SIGNATURE");
    expect(code(() => openNote(GO_TEXT, parseVerifierKey(GO_VKEY)))).to.equal("MALFORMED_NOTE");
  });

  it("round-trips verifier keys whose base64 holds \"+\" and \"/\"", () => {
    let withPlus = 0;
    for (let i = 0; i < 64; i++) {
      const signer = noteSignerFromSeed("example.com/log", Buffer.alloc(32, i));
      const key = verifierKey(signer);
      if (key.split("+").length > 3) withPlus++;
      expect(Buffer.from(parseVerifierKey(key).publicKey)).to.deep.equal(Buffer.from(signer.publicKey));
    }
    expect(withPlus).to.be.greaterThan(0);
  });

  it("refuses malformed verifier keys, as Go's NewVerifier does", () => {
    for (const bad of [
      "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
      "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3",
    ]) {
      expect(code(() => parseVerifierKey(bad)), bad).to.equal("MALFORMED_KEY");
    }
  });
});

describe("open log: checkpoints (c2sp.org/tlog-checkpoint)", () => {
  const origin = defaultOrigin({ chainId: 31337, contract: "0x5FbDB2315678afecb367f032d93F642f64180aa3", logId: "0x" + "ab".repeat(32) });
  const signer = noteSignerFromSeed(origin, Buffer.alloc(32, 1));
  const root = createHash("sha256").update("root").digest();

  it("formats origin, size and base64 root, each on its own line", () => {
    expect(formatCheckpoint({ origin, treeSize: 1234, rootHash: root })).to.equal(`${origin}\n1234\n${root.toString("base64")}\n`);
    expect(origin).to.equal(`provenance-ledger/31337/0x5fbdb2315678afecb367f032d93f642f64180aa3/0x${"ab".repeat(32)}`);
  });

  it("round-trips through a signed note, and checks the origin", () => {
    const note = signNote(formatCheckpoint({ origin, treeSize: 7, rootHash: root }), signer);
    const verifier = parseVerifierKey(verifierKey(signer));
    const opened = openCheckpoint(note, verifier, origin);
    expect(opened.treeSize).to.equal(7);
    expect(Buffer.from(opened.rootHash)).to.deep.equal(root);
    expect(code(() => openCheckpoint(note, verifier, origin + "x"))).to.equal("WRONG_ORIGIN");
  });

  it("refuses malformed bodies: leading zeros, a short root, missing lines", () => {
    for (const bad of [`${origin}\n07\n${root.toString("base64")}\n`, `${origin}\n7\nAAAA\n`, `${origin}\n7\n`, `\n7\n${root.toString("base64")}\n`]) {
      expect(code(() => parseCheckpoint(bad)), JSON.stringify(bad)).to.equal("MALFORMED_CHECKPOINT");
    }
    // Extension lines are allowed.
    expect(parseCheckpoint(`${origin}\n7\n${root.toString("base64")}\nextension\n`).treeSize).to.equal(7);
  });

  it("formats and parses a c2sp.org/tlog-proof@v1 text", () => {
    const note = signNote(formatCheckpoint({ origin, treeSize: 7, rootHash: root }), signer);
    const proof = [createHash("sha256").update("a").digest(), createHash("sha256").update("b").digest()];
    const text = formatTlogProof({ index: 5, proof, checkpoint: note });
    expect(text.split("\n").slice(0, 4)).to.deep.equal(["c2sp.org/tlog-proof@v1", "index 5", proof[0]!.toString("base64"), proof[1]!.toString("base64")]);
    const parsed = parseTlogProof(text);
    expect(parsed.index).to.equal(5);
    expect(parsed.checkpoint).to.equal(note);
    expect(parsed.proof.map((p) => Buffer.from(p))).to.deep.equal(proof);
  });
});
