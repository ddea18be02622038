import { createHmac, hash } from "node:crypto";
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
 * Array.prototype.sort's order; so the text is JSON.stringify of a copy whose keys
 * are inserted in that order. JS objects list integer-like keys ("7", "10") first
 * and in numeric order whatever the insertion order, and assigning `__proto__`
 * sets the prototype, so a value with such a key takes the serialiser below.
 */
export function canonicalJson(value: unknown): string {
  const sorted = sortedCopy(value);
  const json = sorted === UNSORTABLE ? serialize(value) : JSON.stringify(sorted);
  if (json === undefined) throw new TypeError("value has no canonical JSON form");
  return json;
}

const UNSORTABLE = Symbol("a key a plain object cannot hold in sorted order");
// Array indices (JS objects order them numerically, ahead of other keys), and __proto__.
const UNSORTABLE_KEY = /^(?:0|[1-9]\d{0,9}|__proto__)$/;

/** `value` with every object's keys in sorted order and toJSON applied; UNSORTABLE if that cannot be. */
function sortedCopy(value: unknown): unknown {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`${value} is not allowed in canonical JSON`);
    return value;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return sortedCopy((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = sortedCopy(value[i]);
      if (item === UNSORTABLE) return UNSORTABLE;
      out[i] = item;
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    if (UNSORTABLE_KEY.test(key)) return UNSORTABLE;
    const item = sortedCopy((value as Record<string, unknown>)[key]);
    if (item === UNSORTABLE) return UNSORTABLE;
    out[key] = item;
  }
  return out;
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

export function envelopeBytes(envelope: Envelope): Buffer {
  return canonicalBytes(envelope);
}

/**
 * The canonical JSON of an envelope, given its event's canonical JSON: the same
 * text as `canonicalJson(envelope)` (RFC 8785 orders the keys event, index, log,
 * receivedAt, submitter, v; strings and integers serialise as JSON.stringify
 * does), without canonicalising the event a second time on the ingest path.
 */
export function envelopeJson(eventJson: string, meta: Omit<Envelope, "event" | "v">): string {
  if (!Number.isSafeInteger(meta.index) || meta.index < 0) throw new TypeError(`envelope index must be a non-negative integer; got ${meta.index}`);
  return `{"event":${eventJson},"index":${meta.index},"log":${JSON.stringify(meta.log)},"receivedAt":${JSON.stringify(meta.receivedAt)},"submitter":${JSON.stringify(meta.submitter)},"v":1}`;
}

/** subjectRef = HMAC-SHA256(secret, subject id), lowercase hex with 0x prefix. */
export function subjectRef(secret: Uint8Array, subjectId: string): string {
  return "0x" + createHmac("sha256", secret).update(subjectId, "utf8").digest("hex");
}

/** Replaces the clear subject id by its pseudonym; nothing else changes. */
export function pseudonymise(event: ProvenanceEvent, secret: Uint8Array): StoredEvent {
  const { subject, ...rest } = event;
  return subject === undefined ? rest : { ...rest, subjectRef: subjectRef(secret, subject) };
}

/** Fingerprint of a stored event, to tell a true retry from a reused requestId. */
export function eventFingerprint(event: StoredEvent): string {
  return serialisedEvent(event).fp;
}

/** A stored event as the log keeps it: its RFC 8785 JSON, and that JSON's fingerprint. */
export function serialisedEvent(event: StoredEvent): { eventJson: string; fp: string } {
  const eventJson = canonicalJson(event);
  return { eventJson, fp: fingerprintOfJson(eventJson) };
}

export function fingerprintOfJson(eventJson: string): string {
  // One-shot hash(): half the cost of createHash().update().digest() for a short input.
  return hash("sha256", eventJson, "hex");
}
