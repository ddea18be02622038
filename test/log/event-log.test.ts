/**
 * The event log's group commit on a real LevelDB: many concurrent appends get
 * contiguous indices in arrival order and are durable when they resolve; a batch is
 * prepared while the one before it is being written, and a retry or a conflicting
 * reuse of a requestId is recognised even while the first request's batch is still
 * in flight; a failed write loses nothing acknowledged and leaves no gap.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { canonicalJson } from "../../server/domain/envelope";
import { AppError } from "../../server/errors";
import { EventLog, type Submission } from "../../server/log/event-log";
import { indexKey, openStores, type OpenStores } from "../../server/store/database";
import type { StoredEvent } from "../../server/domain/event-schema";

const LOG_ID = "0x" + "ab".repeat(32);

function event(requestId: string, purpose = "case handling"): StoredEvent {
  return {
    requestId,
    type: "access",
    occurredAt: "2026-11-26T08:00:00+08:00",
    actor: { org: "330102003004:civil-affairs", system: "case-system", operator: "op-1" },
    dataset: "household-registry",
    fields: ["name"],
    purpose,
    legalBasis: "Regulation 12",
  } as StoredEvent;
}

const submit = (requestId: string, purpose?: string): Submission => ({ submitter: "key-1", event: event(requestId, purpose) });

/**
 * Fault injection (an I/O error cannot be produced on demand): the database's next batch
 * write, array or chained, fails after `delayMs`. Returns the function that undoes it.
 */
function failNextBatch(db: object, message: string, delayMs = 0): () => void {
  const target = db as { batch: (...args: unknown[]) => unknown };
  const batch = target.batch;
  let failNext = true;
  const failure = () => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), delayMs));
  target.batch = function (this: unknown, ...args: unknown[]) {
    if (!failNext) return batch.apply(this, args);
    failNext = false;
    if (args.length > 0) return failure();
    const chained = batch.apply(this, args) as { write(): Promise<void>; close(): Promise<void> };
    chained.write = async () => {
      await chained.close();
      return failure();
    };
    return chained;
  };
  return () => void (target.batch = batch);
}

describe("event log: group commit", function () {
  this.timeout(60_000);
  let dir: string;
  let stores: OpenStores;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-log-"));
    stores = await openStores(dir);
  });
  afterEach(async () => {
    await stores.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("gives concurrent appends contiguous indices in arrival order, each durable once resolved", async () => {
    const log = await EventLog.open(stores, { logId: LOG_ID });
    const batches: number[] = [];
    log.on("appended", (size: number) => batches.push(size));
    // 300 callers at once, then more while the first batches are being written.
    const first = Array.from({ length: 300 }, (_, i) => log.append([submit(`a-${i}`)]));
    await new Promise((resolve) => setImmediate(resolve));
    const second = Array.from({ length: 300 }, (_, i) => log.append([submit(`b-${i}`), submit(`c-${i}`)]));
    const results = await Promise.all([...first, ...second]);

    const indices = results.flat().map((r) => r.index);
    expect([...indices].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 900 }, (_, i) => i));
    // Arrival order: every "a" request before every "b" request, and each b before its c.
    expect(Math.max(...results.slice(0, 300).flat().map((r) => r.index))).to.be.lessThan(Math.min(...results.slice(300).flat().map((r) => r.index)));
    for (const pair of results.slice(300)) expect(pair[1]!.index).to.equal(pair[0]!.index + 1);
    expect(batches.length, "the appends were grouped into a few synced batches").to.be.within(2, 100);
    expect(log.size).to.equal(900);

    // What resolved is on disk: a fresh log over the same database reads every record back.
    const reopened = await EventLog.open(stores, { logId: LOG_ID });
    expect(reopened.size).to.equal(900);
    const records = await reopened.read(0, 900);
    expect(records.map((r) => r.index)).to.deep.equal(Array.from({ length: 900 }, (_, i) => i));
    const byRequest = new Map(records.map((r) => [r.envelope.event.requestId, r.index]));
    results.slice(0, 300).forEach(([r], i) => expect(byRequest.get(`a-${i}`)).to.equal(r!.index));
  });

  it("answers a retry with the first index and refuses a changed body, also while the first request's batch is in flight", async () => {
    const log = await EventLog.open(stores, { logId: LOG_ID });
    // A slow disk (injected): the first batch's records land only after 100 ms, so the batch
    // queued behind it is surely prepared while its idempotency entries are not in LevelDB.
    const { records } = stores;
    const batch = records.batch.bind(records) as (...args: unknown[]) => Promise<void>;
    (records as unknown as { batch: unknown }).batch = (...args: unknown[]) => new Promise((resolve) => setTimeout(resolve, 100)).then(() => batch(...args));
    const original = log.append([submit("same")]);
    await new Promise((resolve) => setImmediate(resolve));
    const others = Array.from({ length: 50 }, (_, i) => log.append([submit(`other-${i}`)]));
    const retry = log.append([submit("same")]);
    const changed = log.append([submit("same", "something else")]);
    const [first] = await original;
    (records as unknown as { batch: unknown }).batch = batch;
    expect(await retry).to.deep.equal([{ index: first!.index, created: false }]);
    const refusal = await changed.then(
      () => undefined,
      (error: { code?: string }) => error,
    );
    expect(refusal?.code).to.equal("CONFLICT");
    await Promise.all(others);
    expect(log.size).to.equal(51);
    // A retry after everything is durable answers the same.
    expect(await log.append([submit("same")])).to.deep.equal([{ index: first!.index, created: false }]);
    expect(log.size).to.equal(51);
  });

  it("recognises a retry and a reused requestId from the stored record, after a reopen, also for entries in the older { index, fp } form", async () => {
    const log = await EventLog.open(stores, { logId: LOG_ID });
    // Keys with other submitters or requestIds around, so that a lookup must pick the right one.
    await log.append([submit("one"), submit("two"), { submitter: "key-2", event: event("one", "key 2's own") }]);
    // An entry as gateways before this change wrote it: the fingerprint is now unused.
    const idem = stores.db.sublevel<string, string>("idem", { valueEncoding: "utf8" });
    await idem.put("key-1\u0000two", JSON.stringify({ index: 1, fp: "0".repeat(64) }));

    const reopened = await EventLog.open(stores, { logId: LOG_ID });
    // The same events, as objects and as the serialised form the batch worker hands over.
    expect(await reopened.append([submit("one"), submit("two")])).to.deep.equal([
      { index: 0, created: false },
      { index: 1, created: false },
    ]);
    const serialised = { submitter: "key-2", requestId: "one", eventUtf8: Buffer.from(canonicalJson(event("one", "key 2's own")), "utf8") };
    expect(await reopened.append([serialised])).to.deep.equal([{ index: 2, created: false }]);
    for (const changed of [submit("one", "changed"), submit("two", "changed"), { ...serialised, eventUtf8: Buffer.from(canonicalJson(event("one")), "utf8") }]) {
      const refused = await reopened.append([submit("three"), changed]).then(
        () => undefined,
        (error: AppError) => error,
      );
      expect(refused, JSON.stringify(changed)).to.be.instanceOf(AppError);
      expect(refused!.code).to.equal("CONFLICT");
    }
    // Nothing of the refused requests was stored, "three" included.
    expect(reopened.size).to.equal(3);
  });

  it("a failed write rejects its batch and the batch prepared behind it; nothing acknowledged is lost and later appends leave no gap", async () => {
    const log = await EventLog.open(stores, { logId: LOG_ID });
    await log.append([submit("before")]);

    const restore = failNextBatch(stores.records, "injected write failure", 20);
    try {
      const failing = log.append([submit("x-1")]);
      await new Promise((resolve) => setImmediate(resolve));
      const behind = log.append([submit("x-2")]);
      const outcomes = await Promise.allSettled([failing, behind]);
      expect(outcomes.map((o) => o.status)).to.deep.equal(["rejected", "rejected"]);
      expect(String((outcomes[0] as PromiseRejectedResult).reason)).to.contain("injected write failure");
      expect(log.size).to.equal(1);

      const [after] = await log.append([submit("x-2")]);
      expect(after).to.deep.equal({ index: 1, created: true });
      const [again] = await log.append([submit("x-1")]);
      expect(again).to.deep.equal({ index: 2, created: true });
    } finally {
      restore();
    }
    const stored = await (await EventLog.open(stores, { logId: LOG_ID })).read(0, 10);
    expect(stored.map((r) => [r.index, r.envelope.event.requestId])).to.deep.equal([
      [0, "before"],
      [1, "x-2"],
      [2, "x-1"],
    ]);
  });

  describe("records first, the idempotency index after", function () {
    const idemOf = () => stores.db.sublevel<string, string>("idem", { valueEncoding: "utf8" });
    const indexedSizeOf = () => stores.db.sublevel<string, string>("idem-size", { valueEncoding: "utf8" });

    it("rebuilds idempotency entries a crash lost from the records when it opens", async () => {
      const log = await EventLog.open(stores, { logId: LOG_ID });
      await log.append(Array.from({ length: 5 }, (_, i) => submit(`r-${i}`)));
      await log.append(Array.from({ length: 3 }, (_, i) => submit(`r-${5 + i}`)));
      expect(await indexedSizeOf().get("size")).to.equal("8");
      // The last, unsynced index write lost (as power loss can): its entries and the size it wrote.
      await idemOf().batch([5, 6, 7].map((i) => ({ type: "del" as const, key: `key-1\u0000r-${i}` })));
      await indexedSizeOf().put("size", "5");

      const reopened = await EventLog.open(stores, { logId: LOG_ID });
      expect(await idemOf().get("key-1\u0000r-6")).to.equal('{"index":6}');
      expect(await indexedSizeOf().get("size")).to.equal("8");
      expect(await reopened.append([submit("r-6")])).to.deep.equal([{ index: 6, created: false }]);
      const refused = await reopened.append([submit("r-7", "changed")]).then(
        () => undefined,
        (error: AppError) => error,
      );
      expect(refused?.code).to.equal("CONFLICT");
      expect(reopened.size).to.equal(8);
    });

    it("acknowledges stored records when their index write fails, answers retries from memory, and writes the entries with the next batch", async () => {
      const log = await EventLog.open(stores, { logId: LOG_ID });
      const failures: unknown[] = [];
      log.on("indexWriteFailed", (error) => failures.push(error));
      const restore = failNextBatch(stores.db, "injected index write failure");
      try {
        expect(await log.append([submit("a")])).to.deep.equal([{ index: 0, created: true }]);
        expect(failures.map(String)).to.deep.equal(["Error: injected index write failure"]);
        expect(await idemOf().get("key-1\u0000a")).to.equal(undefined);
        expect(await log.append([submit("a")])).to.deep.equal([{ index: 0, created: false }]);
        expect(await log.append([submit("b")])).to.deep.equal([{ index: 1, created: true }]);
      } finally {
        restore();
      }
      expect(await idemOf().get("key-1\u0000a")).to.equal('{"index":0}');
      expect(await indexedSizeOf().get("size")).to.equal("2");
      expect(log.size).to.equal(2);
    });
  });

  describe("records stored by older gateways in the `log` sublevel", function () {
    const LEGACY = 25_000;

    /** The old layout: records and idempotency entries side by side, as UTF-8 strings, no `idem-size`. */
    async function writeLegacyLayout(): Promise<string[]> {
      const legacy = stores.db.sublevel<string, string>("log", { valueEncoding: "utf8" });
      const idem = stores.db.sublevel<string, string>("idem", { valueEncoding: "utf8" });
      const values: string[] = [];
      for (let from = 0; from < LEGACY; from += 5_000) {
        const recordOps = [];
        const idemOps = [];
        for (let index = from; index < from + 5_000; index++) {
          const envelope = { event: event(`old-${index}`), index, log: LOG_ID, receivedAt: "2026-11-01T00:00:00.000Z", submitter: "key-1", v: 1 };
          values.push(canonicalJson(envelope));
          recordOps.push({ type: "put" as const, key: indexKey(index), value: values[index]! });
          idemOps.push({ type: "put" as const, key: `key-1\u0000old-${index}`, value: JSON.stringify({ index, fp: "0".repeat(64) }) });
        }
        await legacy.batch(recordOps);
        await idem.batch(idemOps);
      }
      return values;
    }

    it("moves them to the records database on open, also after a move cut short, and answers their retries", async () => {
      const values = await writeLegacyLayout();
      // A move cut short by a crash: the first records copied, not yet deleted from the old place.
      await stores.records.batch(values.slice(0, 10_000).map((value, index) => ({ type: "put" as const, key: indexKey(index), value: Buffer.from(value) })));

      const progress: string[] = [];
      const log = await EventLog.open(stores, { logId: LOG_ID, onProgress: (message) => progress.push(message) });
      expect(log.size).to.equal(LEGACY);
      expect(progress.at(-1)).to.equal(`moved ${LEGACY} records to their own database`);
      expect(progress.filter((m) => m.startsWith("rebuilding")), "the old layout's index covers every record it moved").to.deep.equal([]);
      const legacy = stores.db.sublevel<string, string>("log", { valueEncoding: "utf8" });
      expect(await legacy.keys().all(), "nothing left in the old place").to.deep.equal([]);
      const moved = await log.read(0, LEGACY);
      expect(moved.length).to.equal(LEGACY);
      for (const index of [0, 9_999, 10_000, 17_321, LEGACY - 1]) expect(moved[index]!.bytes.toString("utf8")).to.equal(values[index]);
      expect(await stores.db.sublevel<string, string>("idem-size", { valueEncoding: "utf8" }).get("size")).to.equal(String(LEGACY));

      expect(await log.append([submit("old-17321"), submit("new")])).to.deep.equal([
        { index: 17_321, created: false },
        { index: LEGACY, created: true },
      ]);
      const refused = await log.append([submit("old-3", "changed")]).then(
        () => undefined,
        (error: AppError) => error,
      );
      expect(refused?.code).to.equal("CONFLICT");
      expect((await EventLog.open(stores, { logId: LOG_ID })).size).to.equal(LEGACY + 1);
    });
  });
});
