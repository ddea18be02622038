import { AppError } from "../errors";
import { MAX_EVENTS_PER_REQUEST } from "../domain/event-schema";
import type { Principal } from "../auth/key-store";
import type { LedgerService } from "../ledger-service";
import type { AppendedEvent } from "../log/event-log";

/** A JSON answer, for whichever path sends it (Express's res.json or the lean path). */
export interface JsonAnswer {
  status: number;
  body: unknown;
}

/**
 * The route logic of POST /v1/events, from parsed body to answer: one event, or
 * `{ events: [...] }` with 1 to 1000 of them and nothing beside. 201 when at least
 * one event was created, 200 when all were already stored (an idempotent repeat).
 */
export async function submitEvents(ledger: LedgerService, principal: Principal, body: unknown): Promise<JsonAnswer> {
  const events = batchEventsOf(body);
  if (typeof events === "string") throw badRequest(events);
  if (events) return batchAnswer(await ledger.submit(principal, events, (i) => `events[${i}]`));
  if (!isObject(body)) throw badRequest('body must be an event object or { "events": [...] }');
  const [result] = await ledger.submit(principal, [body], () => "");
  return { status: result!.created ? 201 : 200, body: result };
}

/**
 * The events of a batch body — `{ events: [...] }` with 1 to 1000 of them and nothing
 * beside; what is wrong with it, when it has `events` but is not such a batch; or
 * undefined when it is no batch at all (a single event, or not an object).
 */
export function batchEventsOf(body: unknown): unknown[] | string | undefined {
  if (!isObject(body) || !("events" in body)) return undefined;
  const { events, ...rest } = body;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field${unknown.length > 1 ? "s" : ""} beside events: ${unknown.join(", ")}`;
  if (!Array.isArray(events) || events.length === 0) return "events must be a non-empty array";
  if (events.length > MAX_EVENTS_PER_REQUEST) return `at most ${MAX_EVENTS_PER_REQUEST} events per request; got ${events.length}`;
  return events;
}

/** The answer to a stored batch. */
export function batchAnswer(results: AppendedEvent[]): JsonAnswer {
  return { status: results.some((r) => r.created) ? 201 : 200, body: { events: results } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function badRequest(message: string): AppError {
  return new AppError({ code: "BAD_REQUEST", message });
}
