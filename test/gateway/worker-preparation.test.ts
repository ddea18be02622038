/**
 * Large batches are prepared on a worker thread (server/ingest), and a client cannot
 * tell: two real gateways, one preparing every batch on its worker
 * (INGEST_WORKER_MIN_BYTES=1) and one never, get the same requests — valid batches,
 * repeats, conflicts, invalid and hostile bodies, compressed ones, other keys — and
 * must give the same answers and store the same events.
 */
import { expect } from "chai";
import { gzipSync } from "node:zlib";
import { makeEvent, makeEvents, startTestGateway, stopAndRemove, type ApiResponse, type TestGateway } from "../support/gateway-harness";

interface Case {
  what: string;
  key: "submitter" | "regulator" | "auditor" | "outsider";
  body: string | Buffer;
  headers?: Record<string, string>;
}

describe("gateway: batches prepared on the worker thread answer as the main thread does", function () {
  this.timeout(180_000);
  let onWorker: TestGateway | undefined;
  let inline: TestGateway | undefined;
  const outsiderKeys = new Map<TestGateway, string>();

  before(async () => {
    onWorker = await startTestGateway({ env: { INGEST_WORKER_MIN_BYTES: "1" } });
    inline = await startTestGateway({ env: { INGEST_WORKER_MIN_BYTES: "1000000000" } });
    await onWorker.gateway.preparation.started();
    for (const g of [onWorker, inline]) {
      const created = await g.api("POST", "/v1/keys", { key: g.keys.admin.key, json: { name: "county 330103 system", role: "submitter", jurisdiction: "330103000000" } });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      outsiderKeys.set(g, created.body.key);
    }
  });

  after(async () => {
    await stopAndRemove(onWorker);
    await stopAndRemove(inline);
  });

  async function send(g: TestGateway, c: Case): Promise<ApiResponse> {
    const key = c.key === "outsider" ? outsiderKeys.get(g)! : g.keys[c.key].key;
    return g.api("POST", "/v1/events", { key, body: c.body, headers: { "content-type": "application/json", ...c.headers } });
  }

  it("gives the same answer to every request, and stores the same events", async function () {
    // Events without a subject: a subject's pseudonym depends on each gateway's own secret.
    const batch = makeEvents(300, (i) => ({ subject: undefined, requestId: `w-${i}`, attributes: { n: i } }));
    const json = (value: unknown) => JSON.stringify(value);
    const cases: Case[] = [
      { what: "a valid batch", key: "submitter", body: json({ events: batch }) },
      { what: "the same batch again (idempotent)", key: "submitter", body: json({ events: batch }) },
      { what: "a requestId reused for another event", key: "submitter", body: json({ events: [{ ...batch[0], purpose: "another purpose" }] }) },
      { what: "one invalid event among valid ones", key: "submitter", body: json({ events: [...makeEvents(20, (i) => ({ subject: undefined, requestId: `x-${i}` })), { ...batch[1], requestId: "bad", fields: [] }] }) },
      { what: "an unknown field beside events", key: "submitter", body: json({ events: batch.slice(0, 2), extra: true }) },
      { what: "not JSON", key: "submitter", body: json({ events: batch }).slice(0, -5) },
      { what: "a lone surrogate in an event", key: "submitter", body: json({ events: [makeEvent({ subject: undefined, purpose: "LONE" })] }).replace('"LONE"', '"\\udc00"') },
      { what: "an event outside the key's jurisdiction", key: "outsider", body: json({ events: makeEvents(5, (i) => ({ subject: undefined, requestId: `o-${i}` })) }) },
      { what: "a key without the submitter role", key: "regulator", body: json({ events: makeEvents(5, (i) => ({ subject: undefined, requestId: `r-${i}` })) }) },
      { what: "a gzip-compressed batch", key: "submitter", body: gzipSync(json({ events: makeEvents(50, (i) => ({ subject: undefined, requestId: `z-${i}` })) })), headers: { "content-encoding": "gzip" } },
      { what: "a batch after a byte-order mark", key: "submitter", body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json({ events: makeEvents(3, (i) => ({ subject: undefined, requestId: `b-${i}` })) }))]) },
      { what: "an empty body", key: "submitter", body: "" },
      // (latin1: every other character is ASCII, and U+00FF becomes the single byte 0xff.)
      { what: "a byte that is not UTF-8 in an event", key: "submitter", body: Buffer.from(json({ events: makeEvents(3, (i) => ({ subject: undefined, requestId: `u-${i}`, purpose: "BAD" })) }).replace("BAD", "\u00ff"), "latin1") },
      { what: "one requestId for two different events", key: "submitter", body: json({ events: [{ ...batch[0], requestId: "twice" }, makeEvent({ subject: undefined }), { ...batch[1], requestId: "twice" }] }) },
      { what: "a single event (not a batch)", key: "submitter", body: json(makeEvent({ subject: undefined, requestId: "single" })) },
    ];
    for (const c of cases) {
      const a = await send(onWorker!, c);
      const b = await send(inline!, c);
      expect({ status: a.status, body: a.body }, c.what).to.deep.equal({ status: b.status, body: b.body });
    }
    expect(onWorker!.gateway.preparation.preparedByWorker, "batches the worker prepared").to.be.at.least(3);
    expect(inline!.gateway.preparation.preparedByWorker).to.equal(0);

    // The same events at the same indices; envelopes differ only in the log id and the time received.
    expect(onWorker!.gateway.log.size).to.equal(inline!.gateway.log.size);
    const [stored, expected] = await Promise.all([onWorker!.gateway.log.read(0, onWorker!.gateway.log.size), inline!.gateway.log.read(0, inline!.gateway.log.size)]);
    expect(stored.map((r) => r.envelope.event)).to.deep.equal(expected.map((r) => r.envelope.event));
  });
});
