import { isUtf8 } from "node:buffer";
import { canonicalJson, pseudonymise } from "../domain/envelope";
import { eventSchema, type StoredEvent } from "../domain/event-schema";
import { repeatedRequestIds } from "../domain/repeated-request-ids";
import { findNonText, mayBreakTextRules } from "../api/json-input";
import { batchEventsOf } from "../api/submit-events";

/**
 * The CPU-heavy part of ingesting a batch, as a pure function of the request's bytes,
 * so that it can run on a worker thread (server/ingest/preparation-pool.ts): each event
 * validated, pseudonymised and serialised as RFC 8785 JSON.
 *
 * Only the happy path: for anything else — not UTF-8, not JSON, not Unicode text (findNonText),
 * not `{ "events": [...] }`, an invalid event, a requestId naming two events — it answers undefined, and the caller takes the ordinary path, which
 * reports the problem exactly as it always has. So this function never decides what a
 * client is told; it only saves the main thread work whose outcome it cannot change.
 */

/** One event of a batch, ready for the log. */
export interface PreparedEvent {
  requestId: string;
  /** actor.org, for the submitter's jurisdiction check. */
  org: string;
  /**
   * RFC 8785 JSON of the stored (pseudonymised) event, UTF-8: a view into one buffer
   * that holds the whole batch's (transferListOf: handed over without a copy).
   */
  eventUtf8: Uint8Array;
}

/**
 * The events of a request body `{ "events": [...] }` given as the UTF-8 bytes the JSON
 * body parser parsed, prepared; undefined unless every event is valid.
 */
export function prepareBatchBody(body: Uint8Array, subjectSecret: Uint8Array): PreparedEvent[] | undefined {
  // The decoder below would turn bad bytes into U+FFFD; the ordinary path refuses them (INVALID_UTF8).
  if (!isUtf8(body)) return undefined;
  // Decoded as the body parser decodes UTF-8 (Node's decoder; a leading BOM dropped).
  let text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (mayBreakTextRules(text) && findNonText(parsed)) return undefined;
  const events = batchEventsOf(parsed);
  if (!Array.isArray(events)) return undefined;

  const stored: StoredEvent[] = new Array(events.length);
  const jsons: string[] = new Array(events.length);
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    const result = eventSchema.safeParse(events[i]);
    if (!result.success) return undefined;
    stored[i] = pseudonymise(result.data, subjectSecret);
    jsons[i] = canonicalJson(stored[i]);
    bytes += Buffer.byteLength(jsons[i]!, "utf8");
  }
  // Two events under one requestId: the ordinary path refuses the batch, naming both.
  if (repeatedRequestIds(stored.map((e) => e.requestId), (first, again) => jsons[first] === jsons[again]).length > 0) return undefined;
  // One buffer of its own (not Buffer's shared pool), so that it can be transferred.
  const utf8 = Buffer.allocUnsafeSlow(bytes);
  const prepared: PreparedEvent[] = new Array(events.length);
  let at = 0;
  for (let i = 0; i < events.length; i++) {
    const length = utf8.write(jsons[i]!, at, "utf8");
    prepared[i] = { requestId: stored[i]!.requestId, org: stored[i]!.actor.org, eventUtf8: new Uint8Array(utf8.buffer, utf8.byteOffset + at, length) };
    at += length;
  }
  return prepared;
}

/** The buffers to transfer with prepared events (one: see PreparedEvent.eventUtf8). */
export function transferListOf(prepared: PreparedEvent[] | undefined): ArrayBuffer[] {
  const buffer = prepared?.[0]?.eventUtf8.buffer;
  return buffer instanceof ArrayBuffer ? [buffer] : [];
}
