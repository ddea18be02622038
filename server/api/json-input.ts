import { isUtf8 } from "node:buffer";
import type { IncomingMessage } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { AppError } from "../errors";

/**
 * What a parsed JSON body may hold, beyond being JSON (attacker-controlled input).
 *
 * - Strings and keys must be Unicode text: no lone surrogates (JSON's `\ud800`
 *   escapes allow them) and no noncharacters. RFC 8785 canonicalises I-JSON
 *   (RFC 7493), which forbids both: a lone surrogate has no UTF-8 form, so the leaf
 *   bytes would depend on the JSON library (ours escapes it, others refuse or
 *   replace it) and a receipt would not verify elsewhere; in a subject id it hashes
 *   like U+FFFD, so different people would share one subjectRef.
 * - No key `__proto__`: JSON.parse makes it an ordinary own key, but copies made by
 *   the validators drop it (or, assigned, it replaces a prototype), so what is
 *   stored would silently differ from what was sent.
 */

// U+FDD0..U+FDEF, and the last two code points of every plane (U+xFFFE, U+xFFFF).
const NONCHARACTER = /[\ufdd0-\ufdef\ufffe\uffff]|[\ud83f\ud87f\ud8bf\ud8ff\ud93f\ud97f\ud9bf\ud9ff\uda3f\uda7f\udabf\udaff\udb3f\udb7f\udbbf\udbff][\udffe\udfff]/;

// A high surrogate not followed by a low one, or a low one not preceded by a high one (UTF-16 code units).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function isText(s: string): boolean {
  return !LONE_SURROGATE.test(s) && !NONCHARACTER.test(s);
}

interface Frame {
  value: unknown;
  parent?: Frame;
  key?: string | number;
}

function pathOf(frame: Frame): string {
  const parts: (string | number)[] = [];
  for (let f: Frame | undefined = frame; f?.parent; f = f.parent) parts.unshift(f.key!);
  return parts.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), "") || "(body)";
}

/** The first place in `value` that breaks the rules above, or undefined. Iterative: any depth. */
export function findNonText(value: unknown): { path: string; message: string } | undefined {
  const stack: Frame[] = [{ value }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v === "string") {
      if (!isText(v)) return { path: pathOf(frame), message: "not Unicode text (a lone surrogate or a noncharacter)" };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: frame, key: i });
    } else if (v !== null && typeof v === "object") {
      for (const key of Object.keys(v)) {
        const child: Frame = { value: (v as Record<string, unknown>)[key], parent: frame, key };
        if (key === "__proto__") return { path: pathOf(child), message: "the key __proto__ is not allowed" };
        if (!isText(key)) return { path: pathOf(child), message: "a key that is not Unicode text (a lone surrogate or a noncharacter)" };
        stack.push(child);
      }
    }
  }
  return undefined;
}

// Every character a string breaking the rules above can hold: surrogates (lone ones, and
// the pairs of the planes' noncharacters U+xFFFE and U+xFFFF) and the BMP noncharacters.
const MAYBE_NOT_TEXT = /[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]/;

/**
 * False when the value JSON.parse makes of `json` surely passes findNonText: the text
 * has no `\u` escape, no `__proto__` and no character MAYBE_NOT_TEXT names, so neither
 * can any string or key parsed from it. One scan of the text instead of a walk of the
 * parsed value, which for a batch of 1,000 events costs several times as much (two
 * regular expressions on each of some 10,000 strings). True says only "walk it".
 */
export function mayBreakTextRules(json: string): boolean {
  return json.includes("\\u") || json.includes("__proto__") || MAYBE_NOT_TEXT.test(json);
}

/** Refuses (400) a parsed body that breaks the rules above; a request without a body passes. */
export function refuseNonText(body: unknown): void {
  const problem = body === undefined ? undefined : findNonText(body);
  if (problem) {
    throw new AppError({ code: "BAD_REQUEST", message: `request body: ${problem.path}: ${problem.message}; nothing was stored`, details: [problem] });
  }
}

/** Middleware after the JSON body parser. */
export function requireTextJson(req: Request, _res: Response, next: NextFunction): void {
  refuseNonText(req.body);
  next();
}

/**
 * A request body (attacker-controlled bytes) that is not well-formed UTF-8. The body
 * parser's decoder, like Node's, would replace each bad sequence with U+FFFD without a
 * word: `"…1234\xff"` and `"…1234\xfe"` would be stored as one string, with one subject
 * pseudonym. Thrown from the body parser's `verify` hook (before it decodes), and
 * answered as INVALID_UTF8 by errorAnswer. A plain Error: body-parser sets `status` on it.
 */
export class InvalidUtf8Body extends Error {
  /** Offset, in the (decompressed) body, of the first byte of the first ill-formed sequence. */
  readonly offset: number;
  readonly byte: number;

  constructor(offset: number, byte: number) {
    super(`request body is not valid UTF-8: byte 0x${byte.toString(16).padStart(2, "0")} at offset ${offset}; nothing was stored`);
    this.name = "InvalidUtf8Body";
    this.offset = offset;
    this.byte = byte;
  }
}

/**
 * The offset of the first byte that does not begin a well-formed UTF-8 sequence
 * (Unicode Table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF, no
 * truncated sequence), or -1 when `bytes` is all UTF-8. Slow, byte by byte: only
 * for bodies isUtf8 already refused.
 */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    // The sequence's length and the range its second byte must fall in (narrower after E0, ED, F0, F4).
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0; // overlong below U+0800
      if (b === 0xed) high = 0x9f; // U+D800..U+DFFF, the surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90; // overlong below U+10000
      if (b === 0xf4) high = 0x8f; // above U+10FFFF
    } else return i; // a continuation byte without a lead, C0/C1 (overlong), F5..FF
    if (i + length > n) return i;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

/**
 * A body-parser `verify` hook: refuses (InvalidUtf8Body) a body declared as UTF-8 —
 * the default, and the only charset requireJsonBody lets through — that is not.
 * isUtf8 is one SIMD pass: 10–50 ns per event of a batch, well under 1 µs for one event.
 */
export function refuseInvalidUtf8(_req: IncomingMessage, _res: unknown, bytes: Buffer, charset: string | undefined): void {
  if (charset?.toLowerCase() !== "utf-8" || isUtf8(bytes)) return;
  const offset = firstInvalidUtf8Offset(bytes);
  throw new InvalidUtf8Body(offset, bytes[offset]!);
}

/**
 * Thrown by the `verify` hook of keepBodyBytesWhen to stop the JSON body parser
 * after it has read (and size-checked, and decompressed) a body but before it
 * parses it: the body's bytes are on the request (bodyBytesOf) for the preparation pool.
 */
export class BodyBytesKept extends Error {
  constructor() {
    super("the body's bytes were kept unparsed");
  }
}

/**
 * A body-parser `verify` hook: refuses a body that is not UTF-8 (refuseInvalidUtf8);
 * then, when `keep(bytes)` says so (and the charset is UTF-8), keeps the body's bytes
 * on the request and ends the parse with BodyBytesKept — so kept bytes are UTF-8.
 */
export function keepBodyBytesWhen(keep: (byteLength: number) => boolean) {
  return (req: IncomingMessage, res: unknown, bytes: Buffer, charset: string | undefined): void => {
    refuseInvalidUtf8(req, res, bytes, charset);
    if (charset?.toLowerCase() !== "utf-8" || !keep(bytes.length)) return;
    (req as { bodyBytes?: Buffer }).bodyBytes = bytes;
    throw new BodyBytesKept();
  };
}

/** The bytes kept by keepBodyBytesWhen. */
export function bodyBytesOf(req: IncomingMessage): Buffer | undefined {
  return (req as { bodyBytes?: Buffer }).bodyBytes;
}
