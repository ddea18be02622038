/**
 * Concurrent department systems posting events (single ones and batches) to a
 * gateway, keeping exact books: which events were acknowledged at which index,
 * and which were sent without an answer (the gateway died, the connection
 * broke) — those may or may not be stored, and are retried later with the same
 * requestId, which the gateway must answer idempotently.
 */
import { makeEvent, request, type TestEvent } from "./gateway-harness";
import type { Acknowledged } from "./ledger-inspection";
import { seededRandom, type Random } from "./seeded-random";

export { seededRandom, type Random };



export const between = (random: Random, min: number, max: number) => min + Math.floor(random() * (max - min + 1));

export interface LoadBooks {
  /** requestId → acknowledgement. */
  acknowledged: Map<string, Acknowledged>;
  /** requestId → event sent without an answer (not acknowledged yet). */
  unanswered: Map<string, TestEvent>;
  requests: number;
  /** Requests that failed at the connection (no HTTP answer). */
  connectionFailures: number;
  /** HTTP answers other than 200/201: each a line (status and body). */
  unexpected: string[];
  /** Events sent again after going unanswered that turned out to be stored already (written, not answered). */
  storedUnanswered: number;
  /** Answers asking to come back later (503 OVERLOADED, 429 RATE_LIMITED, with Retry-After): retried, not errors. */
  backpressure: number;
}

export function newBooks(): LoadBooks {
  return { acknowledged: new Map(), unanswered: new Map(), requests: 0, connectionFailures: 0, unexpected: [], storedUnanswered: 0, backpressure: 0 };
}

export interface LoadParameters {
  url: string;
  key: string;
  submitterId: string;
  clients: number;
  /** Largest batch; a request is a single event when 1 is drawn. */
  maxBatch: number;
  random: Random;
  books: LoadBooks;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Stop a client after this many consecutive connection failures (the gateway is gone). */
  giveUpAfter?: number;
  /** Pause between a client's requests. */
  pauseMs?: number;
}

/**
 * Posts `events` in one request and books the outcome, retrying (same body) after
 * the Retry-After of a 503 or 429. Returns false when the connection failed (no answer).
 */
export async function submitAndBook(p: Pick<LoadParameters, "url" | "key" | "submitterId" | "books" | "timeoutMs">, events: TestEvent[]): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await submitOnce(p, events);
    if (typeof outcome === "boolean") return outcome;
    if (attempt >= 600) {
      p.books.unexpected.push(`still refused after ${attempt} retries: ${outcome.text}`);
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, outcome.retryAfterMs));
  }
}

async function submitOnce(p: Pick<LoadParameters, "url" | "key" | "submitterId" | "books" | "timeoutMs">, events: TestEvent[]): Promise<boolean | { retryAfterMs: number; text: string }> {
  const { books } = p;
  const retried = events.map((event) => books.unanswered.has(event.requestId));
  for (const event of events) books.unanswered.set(event.requestId, event);
  books.requests += 1;
  let answer;
  try {
    answer = await request(p.url, "POST", "/v1/events", { key: p.key, json: events.length === 1 ? events[0] : { events }, timeoutMs: p.timeoutMs ?? 15_000 });
  } catch {
    books.connectionFailures += 1;
    return false;
  }
  if ((answer.status === 503 || answer.status === 429) && answer.headers.get("retry-after")) {
    books.backpressure += 1;
    return { retryAfterMs: Number(answer.headers.get("retry-after")) * 1000, text: answer.text.slice(0, 300) };
  }
  if (answer.status !== 200 && answer.status !== 201) {
    books.unexpected.push(`${answer.status} ${answer.text.slice(0, 300)}`);
    return true;
  }
  const results: { index: number; created: boolean }[] = events.length === 1 ? [answer.body] : answer.body.events;
  events.forEach((event, i) => {
    const index = results[i]!.index;
    if (retried[i] && !results[i]!.created) books.storedUnanswered += 1;
    const before = books.acknowledged.get(event.requestId);
    if (before && before.index !== index) books.unexpected.push(`${event.requestId} acknowledged at ${before.index}, now at ${index}`);
    books.acknowledged.set(event.requestId, { index, event, submitter: p.submitterId });
    books.unanswered.delete(event.requestId);
  });
  return true;
}

/** Runs `clients` loops until `stop()`; resolves when every loop has ended. */
export function runLoad(p: LoadParameters): { stop: () => Promise<void>; done: Promise<void> } {
  let running = true;
  const loops = Array.from({ length: p.clients }, async (_, client) => {
    let failuresInRow = 0;
    while (running) {
      const size = p.random() < 0.5 ? 1 : between(p.random, 2, p.maxBatch);
      const events = Array.from({ length: size }, () => makeEvent({ subject: `subject-${client}-${between(p.random, 0, 50)}`, attributes: { client, n: between(p.random, 0, 1000) } }));
      const answered = await submitAndBook(p, events);
      failuresInRow = answered ? 0 : failuresInRow + 1;
      if (failuresInRow >= (p.giveUpAfter ?? Infinity)) break;
      if (!answered) await new Promise((resolve) => setTimeout(resolve, 50));
      else if (p.pauseMs) await new Promise((resolve) => setTimeout(resolve, p.pauseMs));
    }
  });
  const done = Promise.all(loops).then(() => undefined);
  return {
    done,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** Sends every unanswered event again (same requestId and body), in batches; returns how many got an answer. */
export async function retryUnanswered(p: Pick<LoadParameters, "url" | "key" | "submitterId" | "books" | "timeoutMs">, batch = 200): Promise<number> {
  const pending = [...p.books.unanswered.values()];
  let answered = 0;
  for (let i = 0; i < pending.length; i += batch) {
    const chunk = pending.slice(i, i + batch);
    if (await submitAndBook(p, chunk)) answered += chunk.length;
    else break;
  }
  return answered;
}
