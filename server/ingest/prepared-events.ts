import { canonicalJson, pseudonymise } from "../domain/envelope";
import { eventSchema } from "../domain/event-schema";
import { findNonText } from "../api/json-input";
import { batchEventsOf } from "../api/submit-events";

/**
 * The CPU-heavy part of ingesting a batch, as a pure function of the request's bytes,
 * so that it can run on a worker thread (server/ingest/preparation-pool.ts): each event
 * validated, pseudonymised and serialised as RFC 8785 JSON.
 *
 * Only the happy path: for anything else — not JSON, not Unicode text (findNonText),
 * not `{ "events": [...] }`, an invalid event — it answers undefined, and the caller takes the ordinary path, which
 * reports the problem exactly as it always has. So this function never decides what a
 * client is told; it only saves the main thread work whose outcome it cannot change.
 */

/** One event of a batch, ready for the log. */
export interface PreparedEvent {
  requestId: string;
  /** actor.org, for the submitter's jurisdiction check. */
  org: string;
  /** RFC 8785 JSON of the stored (pseudonymised) event. */
  eventJson: string;
}

/**
 * The events of a request body `{ "events": [...] }` given as the UTF-8 bytes the JSON
 * body parser parsed, prepared; undefined unless every event is valid.
 */
export function prepareBatchBody(body: Uint8Array, subjectSecret: Uint8Array): PreparedEvent[] | undefined {
  // Decoded as the body parser decodes UTF-8 (Node's decoder; a leading BOM dropped).
  let text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (findNonText(parsed)) return undefined;
  const events = batchEventsOf(parsed);
  if (!Array.isArray(events)) return undefined;

  const prepared: PreparedEvent[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const result = eventSchema.safeParse(events[i]);
    if (!result.success) return undefined;
    const stored = pseudonymise(result.data, subjectSecret);
    prepared[i] = { requestId: stored.requestId, org: stored.actor.org, eventJson: canonicalJson(stored) };
  }
  return prepared;
}
