/**
 * Bad input, fuzzed with fast-check against a real gateway (real HTTP, LevelDB,
 * Anvil): every endpoint gets malformed JSON, wrong content types, oversize
 * bodies, deep nesting, wrong types, huge strings and arrays, odd Unicode, bytes that are not UTF-8, keys
 * such as `__proto__` and `constructor`, and invalid path and query parameters.
 *
 * Every answer is a 4xx with a JSON error body (`{ error: { code, message } }`) —
 * except POST /v1/verify, which answers a receipt that does not verify with
 * 200 `{ valid: false, code, reason }`, and must never call a tampered receipt
 * valid. The server stays up, and the whole database — the log above all — is
 * byte-for-byte what it was before the first input.
 *
 * Receipt verification (the code `ledger verify` runs) is fuzzed in process with
 * tampered receipts, and the CLI itself is given corrupt and hostile receipt files:
 * each time a clear one-line error and exit code 1 or 2, never a stack trace.
 *
 * FUZZ_RUNS scales the number of runs per property (default 1); FUZZ_TRACE=<file>
 * appends every HTTP input to that file (to find the one that hangs or kills).
 */
import { expect } from "chai";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Level } from "level";
import {
  clone,
  makeEvent,
  makeEvents,
  makeTempDir,
  removeDir,
  request,
  runCli,
  startTestGateway,
  stopAndRemove,
  waitForReceipt,
  type ApiResponse,
  type RequestOptions,
  type TestGateway,
  trustArgs,
  trustOf,
} from "../support/gateway-harness";
import { verifyReceipt } from "../../server/receipts/verify-receipt";
import { ReceiptError } from "../../server/receipts/receipt-error";
import { ledgerReader } from "../../server/chain/ledger-reader";
import { connectProvider } from "../../server/chain/provider";

const BODY_LIMIT = 64 * 1024;
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** Stop at the first failure: shrinking through HTTP round trips (and a possible hang) would take long. */
const options = (n: number) => ({ numRuns: runs(n), endOnFailure: true });

/** Strings meant to break things: controls, lone surrogates, bidi overrides, non-characters, homoglyphs, huge. */
const ODD_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\u001f",
  "\u007f",
  "\ud800",
  "x\udfffy",
  "\u202etxet",
  "\u200b",
  "\ufeff",
  "\ufffe",
  "\uffff",
  "\ufdd0",
  "𝟑𝟑𝟎𝟏𝟎𝟐𝟎𝟎𝟑𝟎𝟎𝟒",
  "３３０１０２００３００４:civil-affairs",
  "330102003004:civil-affairs\n",
  "e\u0301",
  "%00",
  "../../etc/passwd",
  "<script>alert(1)</script>",
  "'; DROP TABLE events; --",
  "${process.exit(1)}",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "x".repeat(100_000),
];
const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "isAdmin", "role"];

const oddString = fc.oneof(fc.constantFrom(...ODD_STRINGS), fc.string({ unit: "binary", maxLength: 64 }), fc.string({ maxLength: 300 }));
const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));

/** JSON text whose top-level object has an own key `key` (JSON.stringify cannot write `__proto__` from an object literal). */
function withOwnKey(json: unknown, key: string, value: unknown): string {
  const text = JSON.stringify(json);
  const entry = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
  return text === "{}" ? `{${entry}}` : `{${entry},${text.slice(1)}`;
}

/** Sets `value` at `path` inside a JSON copy of `base` (a missing value deletes the key). */
function setPath(base: unknown, path: readonly (string | number)[], value: unknown, remove = false): any {
  const copy = clone(base) as any;
  let at = copy;
  for (const part of path.slice(0, -1)) at = at[part];
  const last = path[path.length - 1]!;
  if (remove) delete at[last];
  else at[last] = value;
  return copy;
}

/** Byte sequences that are not UTF-8, each ill-formed from its first byte: stray, overlong, surrogate, beyond U+10FFFF, truncated. */
const INVALID_UTF8: number[][] = [[0xff], [0xfe], [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe4, 0xb8], [0xc3], [0xf0, 0x9f, 0x99], [0xf8, 0x88, 0x80, 0x80, 0x80]];

const EVENT_STRING_FIELDS: (string | number)[][] = [["type"], ["actor", "org"], ["actor", "system"], ["actor", "operator"], ["dataset"], ["subject"], ["purpose"], ["legalBasis"], ["occurredAt"], ["requestId"], ["fields", 0]];
const EVENT_REQUIRED: (string | number)[][] = [["type"], ["actor"], ["actor", "org"], ["actor", "system"], ["actor", "operator"], ["dataset"], ["purpose"], ["legalBasis"], ["fields"], ["occurredAt"], ["requestId"]];

/**
 * One event made invalid by a mutation that alone guarantees refusal; returns
 * the JSON text (some mutations need own `__proto__` keys).
 */
function invalidEvent(): fc.Arbitrary<string> {
  const base = fc.constant(null).map(() => makeEvent({ attributes: { a: 1 } }));
  return fc.oneof(
    // A required field removed.
    fc.tuple(base, fc.constantFrom(...EVENT_REQUIRED)).map(([e, p]) => JSON.stringify(setPath(e, p, undefined, true))),
    // A string field of the wrong type.
    fc.tuple(base, fc.constantFrom(...EVENT_STRING_FIELDS), notAString).map(([e, p, v]) => JSON.stringify(setPath(e, p, v))),
    // A string field with a control character, or oversize.
    fc.tuple(base, fc.constantFrom(...EVENT_STRING_FIELDS), fc.constantFrom("\u0000", "\u0007", "\n", "\u001b[31m", "\u007f")).map(([e, p, c]) => JSON.stringify(setPath(e, p, `ok${c}ok`))),
    fc.tuple(base, fc.constantFrom(["purpose"], ["legalBasis"], ["dataset"], ["requestId"], ["actor", "system"], ["subject"]), fc.integer({ min: 513, max: 60_000 })).map(([e, p, n]) =>
      JSON.stringify(setPath(e, [...p], "x".repeat(n))),
    ),
    // A lone surrogate: not Unicode text, so not I-JSON, so no RFC 8785 form every verifier agrees on.
    fc.tuple(base, fc.constantFrom(["purpose"], ["legalBasis"], ["subject"], ["fields", 0], ["attributes", "a"]), fc.constantFrom("\ud800", "a\udc00", "\udbff\udbff")).map(([e, p, s]) =>
      JSON.stringify(setPath(e, [...p], s)),
    ),
    // An identifier with characters outside its alphabet (odd Unicode).
    fc.tuple(base, fc.constantFrom(["actor", "system"], ["actor", "operator"], ["dataset"], ["requestId"], ["fields", 0]), fc.constantFrom(" ", "\u202e", "\u200b", "a b", "é\u0301!", "<x>", "a,b", "🙂", "\ufeff")).map(([e, p, s]) =>
      JSON.stringify(setPath(e, [...p], `id${s}`)),
    ),
    // Organisation ids that look right but are not.
    fc.tuple(base, fc.constantFrom(["actor", "org"]), fc.constantFrom("３３０１０２００３００４:civil-affairs", "330102003004", "33010200300:x", "330102003004:Civil", "330102003004:-x", "330102003004:civil affairs", "330102003004-G:x")).map(([e, p, s]) =>
      JSON.stringify(setPath(e, [...p], s)),
    ),
    // Enum and time values out of range.
    fc.tuple(base, oddString.filter((s) => !["collect", "access", "share", "use", "modify", "export", "delete"].includes(s))).map(([e, s]) => JSON.stringify({ ...e, type: s })),
    fc.tuple(base, fc.constantFrom("2026-13-01T00:00:00Z", "2026-11-26", "2026-11-26T10:00:00", "yesterday", "1764150000", "2026-11-26T25:00:00+08:00", "2026-11-26T10:00:00+08:00\u0000")).map(([e, s]) => JSON.stringify({ ...e, occurredAt: s })),
    // Arrays: empty, too long, of the wrong items.
    fc.tuple(base, fc.oneof(fc.constant([]), fc.constant(Array.from({ length: 257 }, (_, i) => `f${i}`)), fc.array(notAString, { minLength: 1, maxLength: 3 }))).map(([e, f]) => JSON.stringify({ ...e, fields: f })),
    // Unknown keys, prototype-ish keys, at the top or nested.
    fc.tuple(base, fc.constantFrom(...PROTO_KEYS, "extra", "subjectRef", "index", "submitter"), fc.jsonValue({ maxDepth: 2 })).map(([e, k, v]) => withOwnKey(e, k, v)),
    fc.tuple(base, fc.constantFrom(...PROTO_KEYS, "extra"), fc.jsonValue({ maxDepth: 1 })).map(([e, k, v]) => {
      const text = JSON.stringify(e);
      return text.replace('"actor":{', () => `"actor":{${JSON.stringify(k)}:${JSON.stringify(v)},`);
    }),
    // Attributes: nested, too many, bad keys or values, prototype keys.
    fc.tuple(base, fc.oneof(
      fc.constant({ nested: { a: 1 } }),
      fc.constant(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]))),
      fc.constant({ "bad key": 1 }),
      fc.constant({ k: 1.5 }),
      fc.constant({ k: 2 ** 60 }),
      fc.constant({ k: null }),
      fc.constant({ k: [1] }),
      fc.constant("a=1"),
    )).map(([e, a]) => JSON.stringify({ ...e, attributes: a })),
    fc.tuple(base, fc.constant("__proto__"), fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.integer())).map(([e, k, v]) => {
      // `attributes: { "__proto__": v }` as an own key (an object literal cannot express it): it would be dropped silently.
      const text = JSON.stringify({ ...e, attributes: { a: 1 } });
      return text.replace('"attributes":{', () => `"attributes":{${JSON.stringify(k)}:${JSON.stringify(v)},`);
    }),
    // A share without recipient; a recipient with extra keys.
    base.map((e) => JSON.stringify({ ...e, type: "share" })),
    base.map((e) => JSON.stringify({ ...e, type: "share", recipient: { org: "330102003005:health", extra: 1 } })),
  );
}

function expectJsonError(response: ApiResponse, context: string): void {
  expect(response.status, `${context}: ${response.status} ${response.text.slice(0, 300)}`).to.be.within(400, 499);
  expect(response.headers.get("content-type") ?? "", context).to.match(/^application\/json/);
  expect(response.body?.error?.code, `${context}: ${response.text.slice(0, 300)}`).to.be.a("string").and.not.equal("");
  expect(response.body?.error?.message, context).to.be.a("string").and.not.equal("");
}

describe("security: fuzzing every endpoint with bad input", function () {
  this.timeout(300_000 * Math.max(1, SCALE));

  let g: TestGateway;
  let receipt: any;
  let keys: Record<"admin" | "submitter" | "auditor" | "regulator" | "citizen", string>;
  let dbBefore: string;
  let inputs = 0;
  let fileDir: string;

  /** Any method with any body and headers (fetch refuses a body on GET), over node:http. */
  const send = async (method: string, route: string, requestOptions: RequestOptions = {}): Promise<ApiResponse> => {
    inputs += 1;
    if (process.env.FUZZ_TRACE) appendFileSync(process.env.FUZZ_TRACE, `${method} ${route.slice(0, 3000)} ${String(requestOptions.body ?? "").slice(0, 20000)}\n`);
    try {
      return await rawRequest(g.url, method, route, { timeoutMs: 10_000, ...requestOptions });
    } catch (error) {
      throw new Error(`${method} ${route.slice(0, 200)}: no HTTP answer (${(error as Error).message}); is the server down?`);
    }
  };

  /** Every key and value of both databases, hashed: sublevels included, nothing skipped. */
  async function databaseDigest(): Promise<string> {
    const hash = createHash("sha256");
    let entries = 0;
    for (const db of [g.gateway.stores.db, g.gateway.stores.records] as unknown as Level<Buffer, Buffer>[]) {
      for await (const [key, value] of db.iterator({ keyEncoding: "buffer", valueEncoding: "buffer" })) {
        hash.update(String(key.length)).update(key).update(String(value.length)).update(value);
        entries += 1;
      }
    }
    return `${entries}:${hash.digest("hex")}`;
  }

  before(async () => {
    g = await startTestGateway({ env: { BODY_LIMIT_BYTES: String(BODY_LIMIT), RATE_LIMIT_PER_SECOND: "100000", RATE_LIMIT_BURST: "100000" } });
    const citizen = await g.api("POST", "/v1/keys", { key: g.keys.admin.key, json: { name: "citizen portal", role: "citizen-portal" } });
    keys = { admin: g.keys.admin.key, submitter: g.keys.submitter.key, auditor: g.keys.auditor.key, regulator: g.keys.regulator.key, citizen: citizen.body.key };
    const stored = await g.api("POST", "/v1/events", { key: keys.submitter, json: { events: [...makeEvents(8), makeEvent({ type: "share", recipient: { org: "330102003005:health" } })] } });
    expect(stored.status).to.equal(201);
    receipt = await waitForReceipt(g.url, keys.auditor, 8);
    // Quiet: every event indexed and anchored, so only a fuzz input could change the database now.
    await waitForQuiet(g);
    dbBefore = await databaseDigest();
    fileDir = makeTempDir("ledger-fuzz-files-");
  });

  after(async () => {
    console.log(`      fuzz: ${inputs} HTTP inputs tried`);
    await stopAndRemove(g);
    removeDir(fileDir);
  });

  afterEach(async function () {
    // After every group of inputs: still up, still serving, and nothing stored.
    expect((await request(g.url, "GET", "/healthz")).status, "the server is still up").to.equal(200);
    expect((await request(g.url, "GET", "/v1/events/8", { key: keys.auditor })).status).to.equal(200);
    expect(await databaseDigest(), "the database is byte-for-byte unchanged").to.equal(dbBefore);
  });

  /** Every /v1 route with a key allowed to call it (so refusals come from the input, not the role). */
  const routes = () => [
    { method: "POST", path: "/v1/events", key: keys.submitter },
    { method: "GET", path: "/v1/events", key: keys.admin },
    { method: "GET", path: "/v1/events/0", key: keys.admin },
    { method: "GET", path: "/v1/receipts/0", key: keys.admin },
    { method: "POST", path: "/v1/verify", key: keys.auditor },
    { method: "GET", path: "/v1/checkpoints", key: keys.admin },
    { method: "GET", path: "/v1/checkpoints/latest", key: keys.admin },
    { method: "GET", path: "/v1/stats", key: keys.admin },
    { method: "GET", path: "/v1/stats/anchoring", key: keys.admin },
    { method: "GET", path: "/v1/subjects/accesses?subject=x", key: keys.citizen },
    { method: "POST", path: "/v1/subjects/accesses", key: keys.citizen },
    { method: "GET", path: "/v1/orgs", key: keys.admin },
    { method: "PUT", path: "/v1/orgs", key: keys.admin },
    { method: "DELETE", path: "/v1/orgs/330102003004:civil-affairs", key: keys.admin },
    { method: "GET", path: "/v1/status", key: keys.admin },
    { method: "GET", path: "/v1/keys", key: keys.admin },
    { method: "POST", path: "/v1/keys", key: keys.admin },
    { method: "DELETE", path: "/v1/keys/000000000000", key: keys.admin },
    { method: "GET", path: "/v1/alerts", key: keys.admin },
    { method: "POST", path: "/v1/alerts/0000000000000000/ack", key: keys.admin },
    { method: "GET", path: "/v1/policy", key: keys.admin },
    { method: "POST", path: "/v1/audit", key: keys.admin },
    { method: "GET", path: "/v1/audit/latest", key: keys.admin },
    { method: "GET", path: "/v1/audit/00000000-0000-0000-0000-000000000000", key: keys.admin },
  ];

  it("answers malformed JSON on every route with 400", async () => {
    const malformed = fc.oneof(
      // (The body parser strips a byte-order mark, as iconv does, before JSON.parse.)
      fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !isJson(s.replace(/^\ufeff/, "")) && s.trim().length > 0),
      fc.constantFrom('{"type":', "{'a':1}", "[1,2,", '{"a":1}}', '{"a":01}', "NaN", "undefined", '{"a":"\\x41"}', '"\\ud800', "\u0000", "{\"a\":1,}", "tru", "{} {}"),
      fc.integer({ min: 1_000, max: 20_000 }).map((n) => "[".repeat(n)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes()), malformed, async (route, body) => {
        const answer = await send(route.method, route.path, { key: route.key, body, headers: { "content-type": "application/json" } });
        expectJsonError(answer, `${route.method} ${route.path} with ${JSON.stringify(body.slice(0, 40))}`);
        expect(answer.status).to.equal(400);
      }),
      options(250),
    );
  });

  it("answers a body of the wrong content type on every route with 415", async () => {
    const types = fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/json; charset=utf-16", "application/json; charset=latin1", "application/json;charset=\"ucs-2\"", "text/json", "application/jsonp", "application/vnd.api+json", "", "*/*", "application/json, text/plain");
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes()), types, fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v) ?? "null"), fc.string({ minLength: 1 })), async (route, type, body) => {
        const answer = await send(route.method, route.path, { key: route.key, body: body || " ", headers: type ? { "content-type": type } : {} });
        expectJsonError(answer, `${route.method} ${route.path} as ${type}`);
        expect(answer.status).to.equal(415);
      }),
      options(150),
    );
  });

  it("answers bodies over the limit on every route with 413, deep nesting included", async () => {
    for (const route of routes()) {
      for (const body of [JSON.stringify({ events: [makeEvent({ purpose: "x".repeat(BODY_LIMIT) })] }), "[".repeat(BODY_LIMIT + 10) + "]".repeat(BODY_LIMIT + 10), " ".repeat(BODY_LIMIT + 1) + "{}"]) {
        const answer = await send(route.method, route.path, { key: route.key, body, headers: { "content-type": "application/json" } });
        expectJsonError(answer, `${route.method} ${route.path} with ${body.length} bytes`);
        expect(answer.status).to.equal(413);
      }
    }
  });

  it("refuses invalid events, alone and in batches, with 4xx and stores none of them", async () => {
    await fc.assert(
      fc.asyncProperty(invalidEvent(), async (text) => {
        const answer = await send("POST", "/v1/events", { key: keys.submitter, body: text, headers: { "content-type": "application/json" } });
        expectJsonError(answer, `event ${text.slice(0, 300)}`);
      }),
      options(600),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(invalidEvent(), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 5 }), async (bad, good) => {
        // Valid events beside the invalid ones: all or nothing.
        const events = [...makeEvents(good).map((e) => JSON.stringify(e)), ...bad];
        const answer = await send("POST", "/v1/events", { key: keys.submitter, body: `{"events":[${events.join(",")}]}`, headers: { "content-type": "application/json" } });
        expectJsonError(answer, `batch of ${events.length}`);
      }),
      options(100),
    );
    const shapes = fc.oneof(
      fc.jsonValue().filter((v) => v === null || typeof v !== "object" || Array.isArray(v)).map((v) => JSON.stringify(v)),
      fc.jsonValue({ maxDepth: 3 }).filter((v) => typeof v === "object" && v !== null && !Array.isArray(v)).map((v) => JSON.stringify(v)),
      fc.constantFrom('{"events":[]}', '{"events":{}}', '{"events":"x"}', '{"events":null}', '{"events":[{}],"x":1}', '{"__proto__":{"events":[1]}}', '{"events":[1,2,3]}'),
      fc.integer({ min: 1, max: 5 }).map((n) => JSON.stringify({ events: Array.from({ length: 1000 + n }, () => ({})) })),
      fc.integer({ min: 100, max: 5_000 }).map((n) => `{"events":[${"[".repeat(n)}${"]".repeat(n)}]}`),
      fc.integer({ min: 100, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`),
    );
    await fc.assert(
      fc.asyncProperty(shapes, async (text) => {
        const answer = await send("POST", "/v1/events", { key: keys.submitter, body: text, headers: { "content-type": "application/json" } });
        expectJsonError(answer, `body ${text.slice(0, 200)}`);
      }),
      options(200),
    );
  });

  it("refuses invalid UTF-8 in every string field of an event, alone, in batches and on the batch worker, with 400 INVALID_UTF8 at its offset", async () => {
    // A gateway that prepares every batch on its worker thread; the fuzzed one prepares none (its bodies are below 64 KiB).
    const worker = await startTestGateway({ env: { INGEST_WORKER_MIN_BYTES: "0", RATE_LIMIT_PER_SECOND: "100000", RATE_LIMIT_BURST: "100000" } });
    try {
      await worker.gateway.preparation.started();
      const MARK = "@@BAD@@";
      const fieldPaths: (string | number)[][] = [...EVENT_STRING_FIELDS, ["attributes", "a"], ["recipient", "org"]];
      const paths = [
        { name: "single", gateway: () => g, prefix: "" },
        { name: "batch", gateway: () => g, prefix: "events" },
        { name: "worker batch", gateway: () => worker, prefix: "events" },
      ];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...paths),
          fc.constantFrom(...fieldPaths),
          fc.constantFrom(...INVALID_UTF8),
          fc.constantFrom("", "ok", "检查", "é", "🙂"),
          fc.integer({ min: 0, max: 4 }),
          async (path, field, bad, before, position) => {
            const target = path.gateway();
            const event = setPath(makeEvent({ type: "share", recipient: { org: "330102003005:health" }, attributes: { a: "x" } }), field, `${before}${MARK}x`);
            const events = path.prefix ? [...makeEvents(position), event, ...makeEvents(2)] : [event];
            const text = Buffer.from(JSON.stringify(path.prefix ? { events } : event), "utf8");
            const offset = text.indexOf(MARK);
            const body = Buffer.concat([text.subarray(0, offset), Buffer.from(bad), text.subarray(offset + MARK.length)]);
            const size = target.gateway.log.size;
            const answer = path.gateway() === g
              ? await send("POST", "/v1/events", { key: keys.submitter, body, headers: { "content-type": "application/json" } })
              : await rawRequest(target.url, "POST", "/v1/events", { key: target.keys.submitter.key, body, headers: { "content-type": "application/json" }, timeoutMs: 10_000 });
            const context = `${path.name}, ${field.join(".")} with ${Buffer.from(bad).toString("hex")} after ${JSON.stringify(before)}: ${answer.status} ${answer.text.slice(0, 200)}`;
            expectJsonError(answer, context);
            expect(answer.status, context).to.equal(400);
            expect(answer.body.error.code, context).to.equal("INVALID_UTF8");
            expect(answer.body.error.details, context).to.deep.equal({ offset });
            expect(target.gateway.log.size, `${context}: nothing stored`).to.equal(size);
          },
        ),
        options(200),
      );
      expect(worker.gateway.log.size, "the worker gateway stored nothing").to.equal(0);
    } finally {
      await stopAndRemove(worker);
    }
  });

  it("refuses invalid bodies for keys, organisations and the citizens' report with 4xx", async () => {
    const keyBodies = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).filter((v) => !(typeof v === "object" && v !== null && !Array.isArray(v) && "name" in v && "role" in v)),
      fc.record({ name: oddString, role: oddString.filter((r) => !["admin", "submitter", "auditor", "regulator", "citizen-portal"].includes(r)) }),
      fc.record({ name: fc.constantFrom("", "x".repeat(129)), role: fc.constant("auditor") }),
      fc.record({ name: fc.constant("k"), role: fc.constant("regulator") }),
      fc.record({ name: fc.constant("k"), role: fc.constant("regulator"), jurisdiction: oddString.filter((j) => !/^\d{12}$/.test(j)) }),
      fc.record({ name: fc.constant("k"), role: fc.constant("auditor"), datasets: fc.constantFrom([], Array.from({ length: 101 }, (_, i) => `d${i}`), [1], [""]) }),
      fc.record({ name: fc.constant("k"), role: fc.constant("submitter"), orgs: fc.constant(["330102003004:civil-affairs"]) }),
      fc.record({ name: fc.constant("k"), role: fc.constant("auditor"), extra: fc.jsonValue() }),
    );
    const registries = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).filter((v) => !(typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).every((k) => k === "divisions" || k === "orgs"))),
      fc.record({ orgs: fc.array(fc.record({ id: oddString, name: fc.string() }), { minLength: 1, maxLength: 3 }) }),
      fc.record({ divisions: fc.array(fc.record({ code: oddString.filter((c) => !/^\d{12}(-G[0-9A-Za-z]{1,16})?$/.test(c)), name: fc.string({ minLength: 1 }) }), { minLength: 1, maxLength: 3 }) }),
      fc.record({ divisions: fc.constant([{ code: "330102000000", name: "" }]) }),
      fc.record({ orgs: fc.constant([{ id: "330102003004:civil-affairs", name: "x", extra: 1 }]) }),
    );
    const reports = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).filter((v) => !(typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as any).subject === "string" && Object.keys(v).length === 1)),
      fc.record({ subject: fc.constantFrom("", "x".repeat(257)) }),
      fc.record({ subject: fc.constant("s"), cursor: oddString.filter((c) => !/^\d{1,16}$/.test(c)) }),
      fc.record({ subject: fc.constant("s"), extra: fc.jsonValue() }),
      fc.record({ subject: notAString }),
    );
    await fc.assert(
      fc.asyncProperty(keyBodies, async (body) => expectJsonError(await send("POST", "/v1/keys", { key: keys.admin, json: body }), `POST /v1/keys ${JSON.stringify(body).slice(0, 200)}`)),
      options(150),
    );
    await fc.assert(
      fc.asyncProperty(registries, async (body) => expectJsonError(await send("PUT", "/v1/orgs", { key: keys.admin, json: body }), `PUT /v1/orgs ${JSON.stringify(body).slice(0, 200)}`)),
      options(150),
    );
    await fc.assert(
      fc.asyncProperty(reports, async (body) => expectJsonError(await send("POST", "/v1/subjects/accesses", { key: keys.citizen, json: body }), `POST /v1/subjects/accesses ${JSON.stringify(body).slice(0, 200)}`)),
      options(150),
    );
    // Own __proto__ keys in each of these bodies.
    for (const [method, route, key, body] of [
      ["POST", "/v1/keys", keys.admin, withOwnKey({ name: "k", role: "auditor" }, "__proto__", { role: "admin" })],
      ["PUT", "/v1/orgs", keys.admin, withOwnKey({ orgs: [] }, "__proto__", { divisions: [] })],
      ["POST", "/v1/subjects/accesses", keys.citizen, withOwnKey({ subject: "s" }, "__proto__", { cursor: "1" })],
      ["POST", "/v1/keys", keys.admin, withOwnKey({ name: "k", role: "auditor" }, "constructor", { prototype: { role: "admin" } })],
    ] as const) {
      expectJsonError(await send(method, route, { key, body, headers: { "content-type": "application/json" } }), `${route} with a prototype key`);
    }
  });

  it("refuses invalid path and query parameters on every GET route with 4xx", async () => {
    const param = fc.oneof(oddString.map((s) => s.slice(0, 2_000)), fc.constantFrom("-1", "1.5", "1e3", "0x10", "9007199254740993", "99999999999999999999", " 1", "1 ", "+1", "", "NaN", "Infinity", "%", "%zz", "%ff", "%ed%a0%80"));
    // Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD's); values starting with % are sent as they are.
    const enc = (s: string) => (/^%/.test(s) ? s : [...Buffer.from(s, "utf8")].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, "0")}`)).join(""));
    const cases = fc.oneof(
      param.filter((p) => p.length > 0 && !/^(0|[1-9]\d{0,15})$/.test(p)).chain((p) => fc.constantFrom(`/v1/events/${enc(p)}`, `/v1/receipts/${enc(p)}`, `/v1/audit/${enc(p)}`, `/v1/checkpoints?before=${enc(p)}`, `/v1/checkpoints?limit=${enc(p)}`, `/v1/stats/anchoring?limit=${enc(p)}`, `/v1/alerts?eventIndex=${enc(p)}`, `/v1/alerts?limit=${enc(p)}`)),
      fc.constantFrom("/v1/events/18446744073709551616", "/v1/receipts/99999", "/v1/checkpoints?limit=0", "/v1/checkpoints?limit=1001", "/v1/checkpoints?limit=1&limit=2", "/v1/stats/anchoring?limit=1001", "/v1/events/%2e%2e%2fkeys", "/v1/keys/..%2f..%2fevents", "/v1//events/0"),
      fc.tuple(fc.constantFrom("/v1/events", "/v1/stats", "/v1/alerts", "/v1/subjects/accesses?subject=s"), oddString.filter((k) => k.length > 0 && !["org", "subtree", "division", "dataset", "type", "subject", "recipient", "from", "to", "cursor", "limit", "kind", "severity", "acknowledged", "eventIndex"].includes(k)), fc.string({ maxLength: 20 })).map(
        ([route, name, value]) => `${route}${route.includes("?") ? "&" : "?"}${enc(name.slice(0, 500))}=${enc(value)}`,
      ),
      // (Any run of up to 16 digits is a valid cursor — "start below this index" — so digits are left out.)
      fc.tuple(fc.constantFrom("org", "division", "recipient", "type", "from", "to", "cursor", "limit", "subtree"), param).filter(([, v]) => v.length > 0 && !/^\d+$/.test(v)).map(([name, value]) => `/v1/events?${name}=${enc(value)}`),
      fc.tuple(fc.constantFrom("from", "to", "division"), param).filter(([, v]) => v.length > 0).map(([name, value]) => `/v1/stats?${name}=${enc(value)}`),
      fc.tuple(fc.constantFrom("kind", "severity", "acknowledged"), param).map(([name, value]) => `/v1/alerts?${name}=${enc(value)}`),
      param.filter((p) => p.length > 0 && !/^\d{12}(-G[0-9A-Za-z]{1,16})?$/.test(p)).map((p) => `/v1/orgs?division=${enc(p)}`),
      fc.constantFrom("/v1/events?type=access&type=share", "/v1/events?subject=", "/v1/events?subtree=true", "/v1/events?limit=10000", "/v1/subjects/accesses?subject=" + "x".repeat(257), "/v1/subjects/accesses", "/v1/subjects/accesses?subject=a&subject=b"),
    );
    await fc.assert(
      fc.asyncProperty(cases, async (route) => {
        const key = route.startsWith("/v1/subjects") ? keys.citizen : keys.admin;
        expectJsonError(await send("GET", route, { key, timeoutMs: 5_000 }), `GET ${route.slice(0, 200)}`);
      }),
      options(500),
    );
    const ids = fc.oneof(oddString.map((s) => s.slice(0, 1_000)), fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 1, maxLength: 20 })).filter((s) => s.length > 0);
    await fc.assert(
      fc.asyncProperty(ids, fc.constantFrom("DELETE /v1/keys/", "DELETE /v1/orgs/", "POST /v1/alerts/"), async (id, target) => {
        const [method, route] = target.split(" ") as [string, string];
        const answer = await send(method, `${route}${[...Buffer.from(id, "utf8")].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")}${method === "POST" ? "/ack" : ""}`, { key: keys.admin, timeoutMs: 5_000 });
        expectJsonError(answer, `${target}${id.slice(0, 100)}`);
      }),
      options(200),
    );
  });

  it("answers a request line or headers over Node's 16 KB limit with 431, and stays up", async () => {
    // Node's HTTP parser refuses these before Express; the gateway's clientError handler answers in JSON.
    for (const [route, headers] of [
      [`/v1/events?org=${"a".repeat(20_000)}`, {}],
      ["/v1/status", { "x-filler": "b".repeat(20_000) }],
      ["/v1/status", Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`x-h${i}`, "c".repeat(10)]))],
    ] as [string, Record<string, string>][]) {
      const answer = await send("GET", route, { key: keys.admin, headers });
      expect(answer.status, `${route.slice(0, 60)}: ${answer.status}`).to.equal(431);
      expect(answer.body?.error?.code, JSON.stringify(answer.body)).to.equal("HEADERS_TOO_LARGE");
    }
  });

  it("never calls a tampered receipt valid (POST /v1/verify), and never fails with 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(tamperedReceipt(() => receipt), async (text) => {
        const answer = await send("POST", "/v1/verify", { key: keys.auditor, body: text, headers: { "content-type": "application/json" } });
        if (answer.status === 200) {
          expect(answer.body.valid, `a tampered receipt verified: ${text.slice(0, 500)}`).to.equal(false);
          expect(answer.body.code).to.be.a("string");
        } else {
          expectJsonError(answer, `verify ${text.slice(0, 200)}`);
        }
      }),
      options(300),
    );
    // The untampered receipt does verify (the property is not vacuous).
    expect((await send("POST", "/v1/verify", { key: keys.auditor, json: receipt })).body.valid).to.equal(true);
  });

  it("verifies tampered receipts in process (the code `ledger verify` runs): always a ReceiptError, never valid", async () => {
    const provider = connectProvider(g.gateway.chain.rpcUrl, { chainId: g.gateway.chain.chainId });
    const reader = ledgerReader(provider);
    let tried = 0;
    try {
      await fc.assert(
        fc.asyncProperty(tamperedReceipt(() => receipt), async (text) => {
          tried += 1;
          const outcome = await verifyReceipt(JSON.parse(text), trustOf(g.gateway), reader).then(() => "valid", (error: unknown) => error);
          expect(outcome, `a tampered receipt verified: ${text.slice(0, 500)}`).to.not.equal("valid");
          expect(outcome, String((outcome as Error)?.stack)).to.be.instanceOf(ReceiptError);
          expect((outcome as ReceiptError).code).to.not.equal("CHAIN_UNREACHABLE");
        }),
        options(500),
      );
      expect((await verifyReceipt(receipt, trustOf(g.gateway), reader)).receipt.entry.index).to.equal(8);
    } finally {
      provider.destroy();
    }
    console.log(`      fuzz: ${tried} tampered receipts verified in process`);
  });

  it("`ledger verify` answers corrupt and hostile receipt files with a clear error and exit 1 or 2, never a stack trace", async () => {
    const garbage = await startGarbageServer();
    const file = (name: string, content: string | Buffer) => {
      const at = path.join(fileDir, name);
      writeFileSync(at, content);
      return at;
    };
    mkdirSync(path.join(fileDir, "a-directory"), { recursive: true });
    const protoEnvelope = JSON.stringify(receipt).replace('"envelope":{', '"envelope":{"__proto__":{"event":{"purpose":"forged"}},');
    const rpc = g.gateway.chain.rpcUrl;
    const cases: { name: string; args: string[]; input?: string; code: number; says: RegExp }[] = [
      { name: "not JSON", args: [file("not-json.json", "{receipt"), "--rpc", rpc], code: 1, says: /RECEIPT_MALFORMED|not JSON/ },
      { name: "empty file", args: [file("empty.json", ""), "--rpc", rpc], code: 1, says: /not JSON|RECEIPT_MALFORMED/ },
      { name: "binary garbage", args: [file("binary.json", Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))), "--rpc", rpc], code: 1, says: /not JSON|RECEIPT_MALFORMED/ },
      { name: "JSON null", args: ["-", "--rpc", rpc], input: "null", code: 1, says: /RECEIPT_MALFORMED/ },
      { name: "nested 200,000 deep", args: [file("deep.json", "[".repeat(200_000) + "]".repeat(200_000)), "--rpc", rpc], code: 1, says: /RECEIPT_MALFORMED|not JSON/ },
      { name: "envelope nested 100,000 deep", args: [file("deep-envelope.json", JSON.stringify(receipt).replace('"envelope":{', `"envelope":{"x":${"[".repeat(100_000)}${"]".repeat(100_000)},`)), "--rpc", rpc], code: 1, says: /RECEIPT_MALFORMED|LEAF_HASH_MISMATCH/ },
      { name: "__proto__ smuggled into the envelope", args: [file("proto.json", protoEnvelope), "--rpc", rpc], code: 1, says: /LEAF_HASH_MISMATCH|RECEIPT_MALFORMED/ },
      { name: "a million proof hashes", args: [file("long-proof.json", JSON.stringify({ ...receipt, inclusionProof: Array.from({ length: 1_000_000 }, () => receipt.entry.leafHash) })), "--rpc", rpc], code: 1, says: /RECEIPT_MALFORMED/ },
      { name: "wrong types everywhere", args: [file("types.json", JSON.stringify({ version: "1", log: [], entry: { index: -1, envelope: "x", leafHash: 1 }, checkpoint: null, inclusionProof: {} })), "--rpc", rpc], code: 1, says: /RECEIPT_MALFORMED/ },
      { name: "a directory", args: [path.join(fileDir, "a-directory"), "--rpc", rpc], code: 2, says: /cannot read/ },
      { name: "an RPC endpoint that answers garbage", args: [file("valid.json", JSON.stringify(receipt)), "--rpc", garbage.url], code: 2, says: /cannot check the chain|unreachable/i },
      { name: "an RPC URL that is not one", args: [path.join(fileDir, "valid.json"), "--rpc", "not a url"], code: 2, says: /cannot check the chain|invalid|url/i },
    ];
    try {
      for (const c of cases) {
        const result = await runCli(["verify", ...c.args, ...trustArgs(g.gateway)], { input: c.input, timeoutMs: 60_000 });
        const output = result.stdout + result.stderr;
        expect(result.code, `${c.name}: exit ${result.code}\n${output.slice(0, 2000)}`).to.equal(c.code);
        expect(output, `${c.name}: ${output.slice(0, 2000)}`).to.match(c.says);
        expect(output, `${c.name}: a stack trace\n${output.slice(0, 2000)}`).to.not.match(/\n\s+at .+[:(]\d+/);
        expect(result.stderr.trim().split("\n").length, `${c.name}: one line\n${result.stderr.slice(0, 2000)}`).to.be.at.most(2);
      }
    } finally {
      await new Promise<void>((resolve) => garbage.server.close(() => resolve()));
    }
    console.log(`      fuzz: ${cases.length} corrupt or hostile receipt files given to \`ledger verify\``);
  });
});

/** Tampered receipts as JSON text: every mutation here must make the receipt fail verification. */
function tamperedReceipt(original: () => any): fc.Arbitrary<string> {
  const envelopePaths = (r: any): (string | number)[][] => {
    const paths: (string | number)[][] = [];
    const walk = (value: any, at: (string | number)[]) => {
      paths.push(at);
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...at, i]));
      else if (value && typeof value === "object") for (const k of Object.keys(value)) walk(value[k], [...at, k]);
    };
    walk(r.entry.envelope, ["entry", "envelope"]);
    return paths.slice(1);
  };
  const get = (r: any, p: (string | number)[]) => p.reduce((v, k) => v?.[k], r);
  const differentFrom = (old: unknown) => (v: unknown) => JSON.stringify(v) !== JSON.stringify(old);
  return fc.constant(null).chain(() => {
    const r = original();
    const paths = envelopePaths(r);
    const fixed: (string | number)[][] = [["version"], ["log", "id"], ["log", "chainId"], ["log", "contract"], ["entry", "index"], ["entry", "leafHash"], ["checkpoint", "treeSize"], ["checkpoint", "rootHash"], ...r.inclusionProof.map((_: unknown, i: number) => ["inclusionProof", i])];
    return fc.oneof(
      // Any value inside the envelope changed, or removed.
      fc.constantFrom(...paths).chain((p) => fc.oneof(fc.jsonValue({ maxDepth: 2 }), oddString).filter(differentFrom(get(r, p))).map((v) => JSON.stringify(setPath(r, p, v)))),
      fc.constantFrom(...paths.filter((p) => typeof p[p.length - 1] === "string")).map((p) => JSON.stringify(setPath(r, p, undefined, true))),
      // A key added inside the envelope, prototype keys included (as own keys in the JSON text).
      fc.tuple(fc.constantFrom(...PROTO_KEYS, "extra", "event2"), fc.jsonValue({ maxDepth: 2 })).map(([k, v]) => JSON.stringify(r).replace('"envelope":{', () => `"envelope":{${JSON.stringify(k)}:${JSON.stringify(v)},`)),
      fc.tuple(fc.constantFrom(...PROTO_KEYS, "extra"), fc.jsonValue({ maxDepth: 1 })).map(([k, v]) => JSON.stringify(r).replace('"event":{', () => `"event":{${JSON.stringify(k)}:${JSON.stringify(v)},`)),
      // A verified field changed: hashes flipped by one hex digit, numbers moved, types changed.
      fc.tuple(fc.constantFrom(...fixed), fc.integer({ min: 2, max: 65 })).map(([p, at]) => {
        const value = get(r, p);
        if (typeof value !== "string") return JSON.stringify(setPath(r, p, typeof value === "number" ? value + 1 : "x"));
        const i = Math.min(at, value.length - 1);
        return JSON.stringify(setPath(r, p, value.slice(0, i) + (value[i] === "0" ? "1" : "0") + value.slice(i + 1)));
      }),
      fc.tuple(fc.constantFrom(...fixed), fc.oneof(fc.jsonValue({ maxDepth: 1 }), oddString)).filter(([p, v]) => differentFrom(get(r, p))(v)).map(([p, v]) => JSON.stringify(setPath(r, p, v))),
      // The proof shortened, lengthened, reordered.
      fc.constant(JSON.stringify({ ...r, inclusionProof: r.inclusionProof.slice(1) })),
      fc.constant(JSON.stringify({ ...r, inclusionProof: [...r.inclusionProof, r.entry.leafHash] })),
      // (Reversed only when that changes it: a filter that never passes would make fast-check loop forever.)
      fc.constant(JSON.stringify({ ...r, inclusionProof: r.inclusionProof.length > 1 ? [...r.inclusionProof].reverse() : [] })),
    );
  });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Waits until every event is indexed and anchored and no anchor is in flight (bounded). */
async function waitForQuiet(g: TestGateway): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = (await g.api("GET", "/v1/status", { key: g.keys.admin.key })).body;
    if (status.anchoring.anchoredSize === status.anchoring.logSize && !status.anchoring.inflight && status.indexedEvents === status.anchoring.logSize) return;
    if (Date.now() > deadline) throw new Error(`the gateway did not settle: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * One HTTP request with exactly the given method, headers and body. An answer that
 * arrives while the body is still being sent (413) is read all the same.
 */
function rawRequest(baseUrl: string, method: string, route: string, options: RequestOptions): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["content-type"] ??= "application/json";
  }
  const bytes = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  if (bytes) headers["content-length"] = String(bytes.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(route, baseUrl), { method, headers, timeout: options.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown;
        try {
          parsed = text.length > 0 ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) answerHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
        resolve({ status: res.statusCode ?? 0, headers: answerHeaders, body: parsed, text });
      });
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    // The server may answer and close before the whole body is sent (413): the answer counts, not the write.
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE" || error.code === "ECONNRESET") setTimeout(() => reject(error), 5_000).unref();
      else reject(error);
    });
    req.end(bytes);
  });
}

/** An HTTP server that answers every request with 200 and bytes that are not JSON-RPC. */
async function startGarbageServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"jsonrpc":"2.0","id":1,"result":{"garbage":');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
