/**
 * Batches prepared off the main thread (server/ingest): prepareBatchBody gives, for
 * any batch of valid events, exactly what the ordinary path stores — the RFC 8785
 * JSON of the pseudonymised event — and gives up (undefined) on
 * anything else, so the ordinary path reports it. The pool gives the same answers
 * from a real worker thread, prepares small bodies inline, and survives a lost worker.
 */
import { expect } from "chai";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { eventFactory } from "../../bench/events";
import { canonicalJson, pseudonymise } from "../../server/domain/envelope";
import { eventSchema, MAX_EVENTS_PER_REQUEST } from "../../server/domain/event-schema";
import { findNonText } from "../../server/api/json-input";
import { prepareBatchBody, type PreparedEvent } from "../../server/ingest/prepared-events";
import { PreparationPool } from "../../server/ingest/preparation-pool";

const secret = randomBytes(32);
const bytesOf = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8");

/** What the ordinary path stores for each event (ledger-service.ts, then event-log.ts). */
function ordinary(events: unknown[]): PreparedEvent[] {
  return events.map((raw) => {
    const stored = pseudonymise(eventSchema.parse(raw), secret);
    return { requestId: stored.requestId, org: stored.actor.org, eventUtf8: new Uint8Array(Buffer.from(canonicalJson(stored), "utf8")) };
  });
}

describe("ingest: batches prepared for the log", function () {
  describe("prepareBatchBody", function () {
    it("gives exactly what the ordinary path stores, for any batch of valid events", function () {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 40 }), fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }), (seed, count, purpose) => {
          const make = eventFactory(`prop-${seed}`, seed);
          // Purposes of any Unicode text the schema accepts (controls are refused, so left out).
          const events = Array.from({ length: count }, (_, i) => ({ ...make(i), purpose: purpose.replace(/[\u0000-\u001f\u007f]/g, "x") }));
          // Text the gateway refuses before validation (findNonText), or the schema refuses: not this property's case.
          if (findNonText(events) || !events.every((e) => eventSchema.safeParse(e).success)) return;
          expect(prepareBatchBody(bytesOf({ events }), secret)).to.deep.equal(ordinary(events));
        }),
        { numRuns: 150 },
      );
    });

    it("reads the bytes as the body parser does: UTF-8, a leading byte-order mark dropped", function () {
      const events = Array.from({ length: 3 }, (_, i) => eventFactory("bom", 3)(i));
      const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytesOf({ events })]);
      expect(prepareBatchBody(withBom, secret)).to.deep.equal(ordinary(events));
      // A body inside a larger buffer (as a pooled Buffer can be): only its own bytes count.
      const inside = Buffer.concat([Buffer.from("xx"), bytesOf({ events }), Buffer.from("yy")]);
      expect(prepareBatchBody(inside.subarray(2, inside.length - 2), secret)).to.deep.equal(ordinary(events));
    });

    it("gives up on anything the ordinary path would refuse or treat otherwise", function () {
      const valid = Array.from({ length: 3 }, (_, i) => eventFactory("refuse", 5)(i));
      const cases: [string, Buffer][] = [
        ["not JSON", Buffer.from('{"events": [')],
        ["an empty body", Buffer.alloc(0)],
        ["a single event, not a batch", bytesOf(valid[0])],
        ["an array", bytesOf(valid)],
        ["no events", bytesOf({ events: [] })],
        ["events not an array", bytesOf({ events: valid[0] })],
        ["a field beside events", bytesOf({ events: valid, note: "x" })],
        ["one invalid event among valid ones", bytesOf({ events: [...valid, { ...valid[0], type: "peek" }] })],
        ["an unknown field in an event", bytesOf({ events: [{ ...valid[0], extra: 1 }] })],
        ["a lone surrogate", Buffer.from(JSON.stringify({ events: [{ ...valid[0], purpose: "x" }] }).replace('"x"', '"\\ud800"'))],
        ["a __proto__ key", Buffer.from(JSON.stringify({ events: valid }).replace('{"type"', '{"__proto__":{},"type"'))],
        ["a __proto__ key spelt with escapes", Buffer.from(JSON.stringify({ events: valid }).replace('{"type"', '{"\\u005f\\u005fproto__":{},"type"'))],
        ["a noncharacter", bytesOf({ events: [{ ...valid[0], purpose: "x\ufffe" }] })],
        ["a noncharacter of another plane", bytesOf({ events: [{ ...valid[0], purpose: "x\u{1fffe}" }] })],
        ["too many events", bytesOf({ events: Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, (_, i) => eventFactory("many", 1)(i)) })],
      ];
      for (const [what, body] of cases) expect(prepareBatchBody(body, secret), what).to.equal(undefined);
    });
  });

  describe("PreparationPool, with a real worker thread", function () {
    this.timeout(60_000);
    const logger = pino({ level: "silent" });
    let pool: PreparationPool | undefined;

    afterEach(async () => {
      await pool?.close();
      pool = undefined;
    });

    it("answers from the worker exactly as prepareBatchBody does inline, and undefined where it gives up", async function () {
      pool = new PreparationPool({ subjectSecret: secret, minBytes: 1, logger });
      await pool.started();
      const events = Array.from({ length: 200 }, (_, i) => eventFactory("pool", 9)(i));
      expect(await pool.prepare(bytesOf({ events }))).to.deep.equal(ordinary(events));
      expect(await pool.prepare(bytesOf({ events: [{ ...events[0], type: "peek" }] }))).to.equal(undefined);
      expect(pool.preparedByWorker).to.equal(1);
    });

    it("prepares on the calling thread what the worker cannot take: before it is ready, and beyond the requests it holds", async function () {
      pool = new PreparationPool({ subjectSecret: secret, minBytes: 1, logger });
      const events = Array.from({ length: 300 }, (_, i) => eventFactory("busy", 6)(i));
      // The first body starts the worker, which is not ready yet.
      expect(await pool.prepare(bytesOf({ events }))).to.deep.equal(ordinary(events));
      expect([pool.preparedInline, pool.preparedByWorker]).to.deep.equal([1, 0]);
      await pool.started();
      // Five at once: the worker holds three, the calling thread prepares the other two.
      const answers = await Promise.all(Array.from({ length: 5 }, () => pool!.prepare(bytesOf({ events }))));
      for (const answer of answers) expect(answer).to.deep.equal(ordinary(events));
      expect([pool.preparedInline, pool.preparedByWorker]).to.deep.equal([3, 3]);
      // An invalid body is left to the ordinary path wherever it is prepared.
      const invalid = bytesOf({ events: [{ ...events[0], type: "peek" }] });
      expect(await Promise.all(Array.from({ length: 5 }, () => pool!.prepare(invalid)))).to.deep.equal(Array(5).fill(undefined));
    });

    it("leaves bodies under minBytes to the caller, without starting a worker", async function () {
      pool = new PreparationPool({ subjectSecret: secret, minBytes: 1_000_000, logger });
      const events = [eventFactory("small", 2)(0)];
      expect(pool.wouldTake(bytesOf({ events }).length)).to.equal(false);
      expect(await pool.prepare(bytesOf({ events }))).to.equal(undefined);
      expect(pool.preparedByWorker).to.equal(0);
    });

    it("a lost worker: what it held is left to the caller, and the next request starts a new one", async function () {
      pool = new PreparationPool({ subjectSecret: secret, minBytes: 1, logger });
      await pool.started();
      const events = Array.from({ length: 1_000 }, (_, i) => eventFactory("lost", 4)(i));
      const held = pool.prepare(bytesOf({ events }));
      // The fault injected: the worker thread ends while it holds a request.
      await (pool as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      expect(await held).to.equal(undefined);
      await pool.started();
      expect(await pool.prepare(bytesOf({ events }))).to.deep.equal(ordinary(events));
    });

    it("after close, prepares nothing", async function () {
      pool = new PreparationPool({ subjectSecret: secret, minBytes: 1, logger });
      await pool.started();
      await pool.close();
      expect(pool.wouldTake(10_000)).to.equal(false);
      expect(await pool.prepare(bytesOf({ events: [eventFactory("closed", 1)(0)] }))).to.equal(undefined);
    });
  });
});
