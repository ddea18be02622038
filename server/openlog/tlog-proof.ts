import { OpenLogError } from "./errors";
import { decodeBase64Strict } from "./note";

/** c2sp.org/tlog-proof@v1: index, inclusion proof (base64 lines), blank line, the signed checkpoint verbatim. Pure. */

const HEADER = "c2sp.org/tlog-proof@v1";

export interface TlogProof {
  index: number;
  proof: Uint8Array[];
  /** The signed checkpoint note, verbatim. */
  checkpoint: string;
  extra?: Uint8Array;
}

export function formatTlogProof({ index, proof, checkpoint, extra }: TlogProof): string {
  const lines = [HEADER, ...(extra ? [`extra ${Buffer.from(extra).toString("base64")}`] : []), `index ${index}`, ...proof.map((h) => Buffer.from(h).toString("base64"))];
  return lines.join("\n") + "\n\n" + checkpoint;
}

/** Parses a tlog proof (attacker-controlled); the checkpoint note is returned unverified. */
export function parseTlogProof(text: string): TlogProof {
  const bad = (why: string) => new OpenLogError({ code: "MALFORMED_NOTE", message: `malformed tlog-proof: ${why}` });
  const split = text.indexOf("\n\n");
  if (split < 0) throw bad("no blank line before the checkpoint");
  const lines = text.slice(0, split).split("\n");
  if (lines.shift() !== HEADER) throw bad(`first line must be ${HEADER}`);
  let extra: Uint8Array | undefined;
  if (lines[0]?.startsWith("extra ")) {
    extra = decodeBase64Strict(lines.shift()!.slice(6));
    if (!extra) throw bad("extra is not base64");
  }
  const indexLine = /^index (0|[1-9]\d{0,15})$/.exec(lines.shift() ?? "");
  if (!indexLine) throw bad("want an index line");
  const proof = lines.map((line) => {
    const hash = decodeBase64Strict(line);
    if (!hash || hash.length !== 32) throw bad(`proof line ${JSON.stringify(line.slice(0, 60))} is not base64 of 32 bytes`);
    return new Uint8Array(hash);
  });
  return { index: Number(indexLine[1]), proof, checkpoint: text.slice(split + 2), extra };
}
