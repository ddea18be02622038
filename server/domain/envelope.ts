import { createHmac } from "node:crypto";
import type { ProvenanceEvent, StoredEvent } from "./event-schema";

/** The leaf of the Merkle tree: the gateway's facts around one stored event (DESIGN.md). */
export interface Envelope {
  v: 1;
  log: string;
  index: number;
  receivedAt: string;
  submitter: string;
  event: StoredEvent;
}

/** RFC 8785 canonical JSON, UTF-8: the exact leaf bytes. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), "utf8");
}

/**
 * The same bytes as `canonicalBytes`, as a plain Uint8Array (TextEncoder, no
 * Buffer): what receipt verification uses, so the browser console runs it too.
 */
export function canonicalUtf8(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/**
 * RFC 8785 canonical JSON text of a value: the same text as the `canonicalize`
 * package (tests hold them equal), several times as fast — the ingest path spends
 * a large share of its time here. RFC 8785 serialises strings and numbers as ES
 * JSON.stringify does and orders object keys by UTF-16 code units, which is
 * Array.prototype.sort's order; so the text is JSON.stringify of the value with every
 * object's keys in that order. Objects already in order are used as they are (a
 * validated event is: see event-schema.ts); the others are copied with their keys
 * inserted in order. JS objects list integer-like keys ("7", "10") first and in
 * numeric order whatever the insertion order, and assigning `__proto__` sets the
 * prototype, so a value whose copy would need such a key takes the serialiser below.
 */
export function canonicalJson(value: unknown): string {
  const ordered = inKeyOrder(value);
  const json = ordered === UNSORTABLE ? serialize(value) : JSON.stringify(ordered);
  if (json === undefined) throw new TypeError("value has no canonical JSON form");
  return json;
}

const UNSORTABLE = Symbol("a key a plain object cannot hold in sorted order");
// Array indices (JS objects order them numerically, ahead of other keys), and __proto__.
const UNSORTABLE_KEY = /^(?:0|[1-9]\d{0,9}|__proto__)$/;

/**
 * `value` with every object's keys in sorted order and toJSON applied: `value` itself
 * when it already is, else a copy (sharing the parts that are); UNSORTABLE if that cannot be.
 */
function inKeyOrder(value: unknown): unknown {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`${value} is not allowed in canonical JSON`);
    return value;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return inKeyOrder((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const ordered = inKeyOrder(item);
      if (ordered === UNSORTABLE) return UNSORTABLE;
      if (ordered !== item) copy ??= value.slice(0, i);
      if (copy) copy[i] = ordered;
    }
    return copy ?? value;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! < keys[i]!;
  if (!sorted) keys.sort();
  let copy: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = object[key];
    const ordered = inKeyOrder(item);
    if (ordered === UNSORTABLE) return UNSORTABLE;
    if (!copy && (!sorted || ordered !== item)) {
      // From here on the value is a copy: its keys so far, inserted in order.
      copy = {};
      for (let j = 0; j < i; j++) {
        if (UNSORTABLE_KEY.test(keys[j]!)) return UNSORTABLE;
        copy[keys[j]!] = object[keys[j]!];
      }
    }
    if (copy) {
      if (UNSORTABLE_KEY.test(key)) return UNSORTABLE;
      copy[key] = ordered;
    }
  }
  return copy ?? value;
}

// Characters JSON.stringify escapes: quote, backslash, controls, and (well-formed JSON.stringify) surrogates.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** RFC 8785 serialiser for any value, key by key. */
function serialize(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
    case "number":
      if (!Number.isFinite(value)) throw new Error(`${value} is not allowed in canonical JSON`);
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object":
      break;
    default:
      return JSON.stringify(value); // undefined, functions, symbols: as the package does
  }
  if (value === null) return "null";
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return serialize((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (i > 0) out += ",";
      out += serialize(item === undefined || typeof item === "symbol" ? null : item);
    }
    return out + "]";
  }
  let out = "{";
  for (const key of Object.keys(value).sort()) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined || typeof item === "symbol") continue;
    if (out.length > 1) out += ",";
    out += `${serialize(key)}:${serialize(item)}`;
  }
  return out + "}";
}

/**
 * Writes the canonical JSON of envelopes, as UTF-8, given each one's event as RFC 8785
 * JSON in UTF-8, for envelopes that share log, receivedAt and submitter (as a batch's
 * do): the same bytes as `canonicalBytes(envelope)` (RFC 8785 orders the keys event,
 * index, log, receivedAt, submitter, v; strings and integers serialise as
 * JSON.stringify does), without canonicalising the event a second time on the ingest
 * path, and without making a JS string of it (which costs the ingest path's thread
 * its garbage collection).
 */
export function envelopeUtf8Writer(meta: Omit<Envelope, "event" | "v" | "index">): (eventUtf8: Uint8Array, index: number) => Buffer {
  // Made here, not at module load: this module also runs in the browser console, which has no Buffer.
  const head = Buffer.from('{"event":', "latin1");
  const rest = Buffer.from(`,"log":${JSON.stringify(meta.log)},"receivedAt":${JSON.stringify(meta.receivedAt)},"submitter":${JSON.stringify(meta.submitter)},"v":1}`, "utf8");
  return (eventUtf8, index) => {
    if (!Number.isSafeInteger(index) || index < 0) throw new TypeError(`envelope index must be a non-negative integer; got ${index}`);
    const indexPart = `,"index":${index}`; // ASCII
    const leaf = Buffer.allocUnsafe(head.length + eventUtf8.length + indexPart.length + rest.length);
    let at = head.copy(leaf, 0);
    leaf.set(eventUtf8, at);
    at += eventUtf8.length;
    at += leaf.write(indexPart, at, "latin1");
    rest.copy(leaf, at);
    return leaf;
  };
}

/** subjectRef = HMAC-SHA256(secret, subject id), lowercase hex with 0x prefix. */
export function subjectRef(secret: Uint8Array, subjectId: string): string {
  return "0x" + createHmac("sha256", secret).update(subjectId, "utf8").digest("hex");
}

/**
 * Replaces the clear subject id by its pseudonym; nothing else changes. `subjectRef`
 * takes `subject`'s place among the keys, which is also its place in RFC 8785 order, so
 * an event in canonical key order stays in it (see canonicalJson).
 */
export function pseudonymise(event: ProvenanceEvent, secret: Uint8Array): StoredEvent {
  const stored: Record<string, unknown> = {};
  for (const key of Object.keys(event)) {
    const value = (event as Record<string, unknown>)[key];
    if (key !== "subject") stored[key] = value;
    else if (value !== undefined) stored.subjectRef = subjectRef(secret, value as string);
  }
  return stored as StoredEvent;
}
