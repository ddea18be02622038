/**
 * The lean POST /v1/events path (server/api/ingest-route.ts) against the Express
 * chain it stands in for: createHttpApp over a stand-in ledger and key store, on a
 * real node:http server, so each request travels as bytes on a socket.
 *
 * The Express app still routes POST /v1/events spelt `/v1/events/` to the same
 * route logic, so each request is sent both ways and the answers must match —
 * status, body and headers (but Date, and the ETag that only Express adds).
 * Then what the gateway tests do not reach: chunked bodies, the limit to the byte,
 * charsets, compressed bodies, helmet's headers, the shared rate limit, the log line.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import pino from "pino";
import { createHttpApp, type HttpAppParameters } from "../../server/api/http-app";
import type { Principal } from "../../server/auth/key-store";
import { AppError, validationFailed } from "../../server/errors";

const KEY = "pl_0123456789ab_secret-part-of-the-key";
const LIMIT = 4_000;
const principal: Principal = { id: "0123456789ab", name: "t", role: "submitter", createdAt: "2026-11-26T00:00:00.000Z" };

/**
 * Answers each event from its own content, so that both paths get the same answer
 * for the same body: `{ type: "again" }` is an idempotent repeat, other types steer errors.
 */
const ledger = {
  submit: async (_principal: Principal, events: unknown[], pathOf: (i: number) => string) => {
    const problems = events.flatMap((e, i) => (typeof (e as { type?: unknown })?.type === "string" ? [] : [{ path: [pathOf(i) || "type"], message: "type is required" }]));
    if (problems.length > 0) throw validationFailed("invalid events", problems);
    const types = events.map((e) => (e as { type: string }).type);
    if (types.includes("overload")) throw new AppError({ code: "OVERLOADED", message: "the backlog is full; retry shortly" });
    if (types.includes("forbidden")) throw new AppError({ code: "FORBIDDEN", message: "not in this key's jurisdiction" });
    if (types.includes("crash")) throw new Error("the ledger broke");
    return events.map((e) => ({ index: parseInt(createHash("sha256").update(JSON.stringify(e)).digest("hex").slice(0, 8), 16), created: (e as { type: string }).type !== "again" }));
  },
  events: async () => ({ events: [], next: null }),
};

const keys = {
  authenticate: (presented: string) => {
    if (presented !== KEY) throw new AppError({ code: "UNAUTHENTICATED", message: "unknown API key" });
    return principal;
  },
};

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: any;
}

interface Send {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sends the body in pieces with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

describe("api: the lean POST /v1/events path", function () {
  this.timeout(30_000);

  let server: Server;
  let url: string;
  let logLines: string[];

  async function start(rateLimit = { ratePerSecond: 1e9, burst: 1e9 }): Promise<void> {
    logLines = [];
    const logger = pino({ level: "debug" }, new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) }));
    const handler = createHttpApp({
      ledger: ledger as unknown as HttpAppParameters["ledger"],
      keys: keys as unknown as HttpAppParameters["keys"],
      orgs: {} as HttpAppParameters["orgs"],
      logger,
      bodyLimitBytes: LIMIT,
      rateLimit,
      isReady: () => true,
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function stop(): Promise<void> {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  function send(method: string, route: string, { headers = {}, body, chunked = false }: Send = {}): Promise<Answer> {
    const bytes = body === undefined ? undefined : Buffer.from(body);
    const all = { ...headers, ...(bytes && !chunked ? { "content-length": String(bytes.length) } : {}) };
    return new Promise((resolve, reject) => {
      const req = httpRequest(new URL(route, url), { method, headers: all }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, text, body: parsed });
        });
      });
      req.on("error", reject);
      if (bytes && chunked) {
        for (let at = 0; at < bytes.length; at += 7) req.write(bytes.subarray(at, at + 7));
        req.end();
      } else {
        req.end(bytes);
      }
    });
  }

  const json = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
  const event = (type = "access") => JSON.stringify({ type, requestId: `r-${type}` });
  /** A valid event padded with spaces to exactly `size` bytes. */
  const padded = (size: number) => event() + " ".repeat(size - Buffer.byteLength(event()));

  describe("when the same request reaches the lean path and the Express route", () => {
    before(() => start());
    after(() => stop());

    const cases: [string, Send][] = [
      ["a single event", { headers: json, body: event() }],
      ["an idempotent repeat", { headers: json, body: event("again") }],
      ["a batch", { headers: json, body: JSON.stringify({ events: [{ type: "a" }, { type: "b" }] }) }],
      ["a batch with an invalid event", { headers: json, body: JSON.stringify({ events: [{ type: "a" }, {}] }) }],
      ["an empty batch", { headers: json, body: '{"events":[]}' }],
      ["events that are not an array", { headers: json, body: '{"events":{}}' }],
      ["fields beside events", { headers: json, body: '{"events":[{"type":"a"}],"x":1,"y":2}' }],
      ["1001 events", { headers: json, body: `{"events":[${Array(1001).fill("1").join(",")}]}` }],
      ["an array", { headers: json, body: "[1]" }],
      ["null", { headers: json, body: "null" }],
      ["no body", { headers: { authorization: json.authorization } }],
      ["an empty body", { headers: json, body: "" }],
      ["malformed JSON", { headers: json, body: '{"type":' }],
      ["deep nesting", { headers: json, body: "[".repeat(LIMIT - 10) }],
      ["a lone surrogate", { headers: json, body: '{"type":"\\ud800"}' }],
      ["an own __proto__ key", { headers: json, body: '{"events":[{"__proto__":{"type":"x"}}]}' }],
      ["a body over the limit", { headers: json, body: padded(LIMIT + 1) }],
      ["a chunked body over the limit", { headers: json, body: padded(LIMIT + 1), chunked: true }],
      ["no key", { headers: { "content-type": "application/json" }, body: event() }],
      ["a Basic key", { headers: { ...json, authorization: "Basic dTpw" }, body: event() }],
      ["an unknown key", { headers: { ...json, authorization: "Bearer pl_x" }, body: event() }],
      ["text/plain", { headers: { ...json, "content-type": "text/plain" }, body: event() }],
      ["no content type", { headers: { authorization: json.authorization }, body: event() }],
      ["charset utf-16", { headers: { ...json, "content-type": "application/json; charset=utf-16" }, body: event() }],
      ["charset = utf-16 with blanks", { headers: { ...json, "content-type": "application/json; charset = utf-16" }, body: event() }],
      ["charset utf8", { headers: { ...json, "content-type": "application/json; charset=utf8" }, body: event() }],
      ["APPLICATION/JSON", { headers: { ...json, "content-type": "APPLICATION/JSON ; charset=\"UTF-8\"" }, body: event() }],
      ["a gzip body", { headers: { ...json, "content-encoding": "gzip" }, body: gzipSync(event()) }],
      ["an unknown content encoding", { headers: { ...json, "content-encoding": "zip" }, body: event() }],
      ["an overloaded ledger", { headers: json, body: event("overload") }],
      ["a refusal of the ledger", { headers: json, body: event("forbidden") }],
      ["a failure of the ledger", { headers: json, body: event("crash") }],
    ];
    it("refuses every charset but UTF-8 before reading the body (415), however the parameter is written", async () => {
      for (const type of ["application/json; charset=utf-16", "application/json; charset = utf-16", 'application/json;charset="latin1"', "application/json; charset=utf8"]) {
        const answer = await send("POST", "/v1/events", { headers: { ...json, "content-type": type }, body: event() });
        expect(answer.status, type).to.equal(415);
        expect(JSON.parse(answer.text).error.code, type).to.equal("UNSUPPORTED_MEDIA_TYPE");
      }
    });
    for (const [name, request] of cases) {
      it(`answers ${name} alike`, async () => {
        const lean = await send("POST", "/v1/events", request);
        const viaExpress = await send("POST", "/v1/events/", request);
        expect(lean.text, name).to.equal(viaExpress.text);
        expect(lean.status, name).to.equal(viaExpress.status);
        const comparable = (h: IncomingHttpHeaders) => ({ ...h, date: undefined, etag: undefined });
        expect(comparable(lean.headers), name).to.deep.equal(comparable(viaExpress.headers));
        expect(lean.headers.etag, "only Express adds an ETag: this went the lean way").to.equal(undefined);
        expect(viaExpress.headers.etag, "this went through Express").to.be.a("string");
      });
    }
  });

  describe("when a request is unusual but valid", () => {
    before(() => start());
    after(() => stop());

    it("then a chunked body (Transfer-Encoding, no Content-Length) is stored: 201", async () => {
      const answer = await send("POST", "/v1/events", { headers: json, body: event(), chunked: true });
      expect(answer.status, answer.text).to.equal(201);
      expect(answer.body.created).to.equal(true);
    });

    it("then a body of exactly the limit is taken, one byte more is 413 with the limit named", async () => {
      for (const chunked of [false, true]) {
        expect((await send("POST", "/v1/events", { headers: json, body: padded(LIMIT), chunked })).status).to.equal(201);
        const over = await send("POST", "/v1/events", { headers: json, body: padded(LIMIT + 1), chunked });
        expect(over.status).to.equal(413);
        expect(over.body).to.deep.equal({ error: { code: "PAYLOAD_TOO_LARGE", message: `request body is larger than ${LIMIT} bytes` } });
      }
    });

    it("then a query string does not change the route", async () => {
      const answer = await send("POST", "/v1/events?source=batch-7&x", { headers: json, body: event() });
      expect(answer.status, answer.text).to.equal(201);
      expect(answer.headers.etag, "the lean path").to.equal(undefined);
    });

    it("then a body in UTF-8 with a byte-order mark, or gzip-compressed, is stored", async () => {
      expect((await send("POST", "/v1/events", { headers: json, body: "\ufeff" + event() })).status).to.equal(201);
      expect((await send("POST", "/v1/events", { headers: { ...json, "content-encoding": "gzip" }, body: gzipSync(event()) })).status).to.equal(201);
    });
  });

  describe("when a request is refused on the lean path", () => {
    before(() => start());
    after(() => stop());

    it("then a charset other than UTF-8 is 415, with the same message as any non-JSON type", async () => {
      for (const type of ["application/json; charset=utf-16", "application/json; charset=iso-8859-1", 'application/json;charset="ucs-2"']) {
        const answer = await send("POST", "/v1/events", { headers: { ...json, "content-type": type }, body: event() });
        expect(answer.status, type).to.equal(415);
        expect(answer.body).to.deep.equal({ error: { code: "UNSUPPORTED_MEDIA_TYPE", message: `send UTF-8 JSON with Content-Type: application/json; got ${type}` } });
      }
    });

    it("then an overloaded ledger is 503 with Retry-After: 1", async () => {
      const answer = await send("POST", "/v1/events", { headers: json, body: event("overload") });
      expect(answer.status).to.equal(503);
      expect(answer.headers["retry-after"]).to.equal("1");
      expect(answer.body.error.code).to.equal("OVERLOADED");
    });

    it("then a failure of ours is 500 without its cause, and logged", async () => {
      logLines.length = 0;
      const answer = await send("POST", "/v1/events", { headers: json, body: event("crash") });
      expect(answer.body).to.deep.equal({ error: { code: "INTERNAL", message: "internal error" } });
      const failed = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === "request failed");
      expect(failed, logLines.join("")).to.include({ method: "POST", path: "/v1/events" });
      expect(failed.err.message).to.equal("the ledger broke");
    });
  });

  describe("when anything is answered on the lean path", () => {
    before(() => start());
    after(() => stop());

    it("then helmet's security headers are on it, a 201 and a 4xx alike, and no X-Powered-By", async () => {
      const answers = [
        await send("POST", "/v1/events", { headers: json, body: event() }),
        await send("POST", "/v1/events", { headers: json, body: "{bad json" }),
        await send("POST", "/v1/events", { headers: { "content-type": "application/json" }, body: event() }),
      ];
      expect(answers.map((a) => a.status)).to.deep.equal([201, 400, 401]);
      for (const { status, headers: h } of answers) {
        expect(h["content-security-policy"], String(status)).to.match(/default-src 'self'/);
        expect(h["x-content-type-options"]).to.equal("nosniff");
        expect(h["x-frame-options"]).to.equal("SAMEORIGIN");
        expect(h["strict-transport-security"]).to.match(/max-age=\d+/);
        expect(h["referrer-policy"]).to.equal("no-referrer");
        expect(h["cross-origin-opener-policy"]).to.equal("same-origin");
        expect(h["cross-origin-resource-policy"]).to.equal("same-origin");
        expect(h["x-permitted-cross-domain-policies"]).to.equal("none");
        expect(h["x-powered-by"]).to.equal(undefined);
        expect(h["content-type"]).to.equal("application/json; charset=utf-8");
      }
    });

    it("then the request log has its line, with the key's id and never the key", async () => {
      logLines.length = 0;
      await send("POST", "/v1/events?x=1", { headers: json, body: event() });
      await send("POST", "/v1/events", { headers: { ...json, authorization: "Bearer pl_wrong" }, body: event() });
      const lines = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
      expect(lines.map(({ method, path, status, key }) => ({ method, path, status, key }))).to.deep.equal([
        { method: "POST", path: "/v1/events", status: 201, key: principal.id },
        { method: "POST", path: "/v1/events", status: 401, key: undefined },
      ]);
      expect(lines[0].ms).to.be.a("number");
      expect(logLines.join("")).to.not.include(KEY).and.not.include("pl_wrong");
    });
  });

  describe("when other requests reach the app", () => {
    before(() => start({ ratePerSecond: 0.001, burst: 3 }));
    after(() => stop());

    it("then GET and HEAD /v1/events stay on Express, and one key has one budget across both paths", async () => {
      const got = await send("GET", "/v1/events", { headers: { authorization: json.authorization } });
      expect(got.status, got.text).to.equal(200);
      expect(got.body).to.deep.equal({ events: [], next: null });
      expect(got.headers.etag, "Express").to.be.a("string");
      const head = await send("HEAD", "/v1/events", { headers: { authorization: json.authorization } });
      expect(head.status).to.equal(200);
      expect(head.text).to.equal("");
      // Two tokens went to Express; the third goes to the lean path, and then none is left on either.
      expect((await send("POST", "/v1/events", { headers: json, body: event() })).status).to.equal(201);
      for (const [method, route] of [["POST", "/v1/events"], ["GET", "/v1/events"]] as const) {
        const limited = await send(method, route, method === "POST" ? { headers: json, body: event() } : { headers: { authorization: json.authorization } });
        expect(limited.status, `${method} ${route}`).to.equal(429);
        expect(limited.body.error.code).to.equal("RATE_LIMITED");
        expect(Number(limited.headers["retry-after"])).to.be.at.least(1);
      }
    });

    it("then /healthz needs no key and no budget", async () => {
      expect((await send("GET", "/healthz")).body).to.deep.equal({ status: "ok" });
    });
  });
});
