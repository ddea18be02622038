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
 * A body-parser `verify` hook: when `keep(bytes)` says so (and the charset is
 * UTF-8), keeps the body's bytes on the request and ends the parse with BodyBytesKept.
 */
export function keepBodyBytesWhen(keep: (byteLength: number) => boolean) {
  return (req: IncomingMessage, _res: unknown, bytes: Buffer, charset: string | undefined): void => {
    if (charset?.toLowerCase() !== "utf-8" || !keep(bytes.length)) return;
    (req as { bodyBytes?: Buffer }).bodyBytes = bytes;
    throw new BodyBytesKept();
  };
}

/** The bytes kept by keepBodyBytesWhen. */
export function bodyBytesOf(req: IncomingMessage): Buffer | undefined {
  return (req as { bodyBytes?: Buffer }).bodyBytes;
}
