/**
 * Request bodies that are not UTF-8 are refused (issue 16, item 3). Node's decoder —
 * the body parser's, and the batch worker's — replaces every ill-formed byte with
 * U+FFFD without a word, so `"subject":"…1234\xff"` was stored (201), and `\xfe` in its
 * place gave the same subject pseudonym. Now: 400 INVALID_UTF8 naming the offset of the
 * first bad byte, on every path that reads a body, and nothing stored.
 */
import { expect } from "chai";
import fc from "fast-check";
import { isUtf8 } from "node:buffer";
import { gzipSync } from "node:zlib";
import { firstInvalidUtf8Offset } from "../../server/api/json-input";
import { prepareBatchBody } from "../../server/ingest/prepared-events";
import { makeEvent, startOnBothPreparationPaths, stopAndRemove, type TestGateway } from "../support/gateway-harness";

const MARK = "@@BAD@@";

/** The UTF-8 of `json` with MARK (once in it) replaced by `bad`, and the offset where `bad` begins. */
function withBytes(json: string, bad: number[]): { body: Buffer; offset: number } {
  const text = Buffer.from(json, "utf8");
  const offset = text.indexOf(MARK);
  expect(offset, "the marker is in the body").to.be.at.least(0);
  return { body: Buffer.concat([text.subarray(0, offset), Buffer.from(bad), text.subarray(offset + MARK.length)]), offset };
}

describe("security: request bodies that are not UTF-8", function () {
  this.timeout(120_000);
  let inline: TestGateway | undefined;
  let onWorker: TestGateway | undefined;

  before(async () => {
    ({ inline, onWorker } = await startOnBothPreparationPaths());
  });

  after(async () => {
    await stopAndRemove(inline);
    await stopAndRemove(onWorker);
  });

  const post = (g: TestGateway, route: string, body: Buffer, key = g.keys.submitter.key, headers: Record<string, string> = {}, method = "POST") =>
    g.api(method, route, { key, body, headers: { "content-type": "application/json", ...headers } });

  function expectRefused(answer: { status: number; body: any; text: string }, offset: number, what: string): void {
    expect(answer.status, `${what}: ${answer.text}`).to.equal(400);
    expect(answer.body.error.code, what).to.equal("INVALID_UTF8");
    expect(answer.body.error.details, what).to.deep.equal({ offset });
    expect(answer.body.error.message, what).to.include(`offset ${offset}`);
  }

  it('refuses the reported body — "subject":"110101199001011234\\xff" (was 201) — and its \\xfe twin, storing nothing', async () => {
    for (const g of [inline!, onWorker!]) {
      const size = g.gateway.log.size;
      for (const byte of [0xff, 0xfe]) {
        const { body, offset } = withBytes(JSON.stringify(makeEvent({ subject: `110101199001011234${MARK}` })), [byte]);
        expectRefused(await post(g, "/v1/events", body), offset, `single event with 0x${byte.toString(16)}`);
      }
      expect(g.gateway.log.size, "nothing stored").to.equal(size);
    }
  });

  it("refuses it in a batch, on the main thread and on the worker, gzip-compressed too (offset in the decompressed body)", async () => {
    for (const g of [inline!, onWorker!]) {
      const size = g.gateway.log.size;
      const events = [makeEvent(), makeEvent({ purpose: `检查 ${MARK}` }), makeEvent()];
      const { body, offset } = withBytes(JSON.stringify({ events }), [0xed, 0xa0, 0x80]);
      expectRefused(await post(g, "/v1/events", body), offset, "batch with an encoded surrogate");
      expectRefused(await post(g, "/v1/events", gzipSync(body), g.keys.submitter.key, { "content-encoding": "gzip" }), offset, "gzip batch");
      expect(g.gateway.log.size, "nothing stored").to.equal(size);
    }
    // The worker's function alone does not decode bad bytes into U+FFFD either (the ordinary path then refuses them).
    const { body } = withBytes(JSON.stringify({ events: [makeEvent({ subject: `x${MARK}` })] }), [0xff]);
    expect(prepareBatchBody(body, new Uint8Array(32))).to.equal(undefined);
  });

  it("refuses it on every other route with a JSON body: PUT /v1/orgs, POST /v1/verify, /v1/keys, /v1/subjects/accesses", async () => {
    const g = inline!;
    const orgsBefore = (await g.api("GET", "/v1/orgs", { key: g.keys.admin.key })).body;
    const keysBefore = (await g.api("GET", "/v1/keys", { key: g.keys.admin.key })).body;
    for (const [method, route, json, key] of [
      ["PUT", "/v1/orgs", { orgs: [{ id: "330102003004:civil-affairs", name: `民政${MARK}` }] }, g.keys.admin.key],
      ["POST", "/v1/verify", { version: 1, log: { id: MARK } }, g.keys.auditor.key],
      ["POST", "/v1/keys", { name: `k${MARK}`, role: "auditor" }, g.keys.admin.key],
      ["POST", "/v1/subjects/accesses", { subject: `110101199001011234${MARK}` }, g.keys.admin.key],
    ] as const) {
      const { body, offset } = withBytes(JSON.stringify(json), [0xc0, 0xaf]);
      expectRefused(await post(g, route, body, key, {}, method), offset, `${method} ${route}`);
    }
    expect((await g.api("GET", "/v1/orgs", { key: g.keys.admin.key })).body).to.deep.equal(orgsBefore);
    expect((await g.api("GET", "/v1/keys", { key: g.keys.admin.key })).body).to.deep.equal(keysBefore);
  });

  it("names the first byte of the first ill-formed sequence, as the standard decoder sees it", () => {
    const cases: [number[], number][] = [
      [[0x61, 0xff], 1],
      [[0xc3, 0xa9, 0xc3], 2], // truncated at the end
      [[0xe4, 0xb8, 0x22], 0], // truncated before a quote
      [[0xc0, 0xaf], 0], // overlong "/"
      [[0xe0, 0x80, 0xaf], 0], // overlong
      [[0xf0, 0x82, 0x82, 0xac], 0], // overlong
      [[0xed, 0xa0, 0x80], 0], // a surrogate, U+D800
      [[0xed, 0x9f, 0xbf, 0xf4, 0x90, 0x80, 0x80], 3], // U+D7FF is fine; above U+10FFFF is not
      [[0x80], 0],
      [[0xf8, 0x88, 0x80, 0x80, 0x80], 0],
      [[0xf0, 0x9f, 0x99, 0x82, 0x41], -1], // 🙂A
    ];
    for (const [bytes, offset] of cases) expect(firstInvalidUtf8Offset(Uint8Array.from(bytes)), JSON.stringify(bytes)).to.equal(offset);
    // Against Node's own validator on arbitrary bytes: -1 exactly when valid; else a valid prefix, and no character starts there.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        const offset = firstInvalidUtf8Offset(bytes);
        if (offset === -1) return isUtf8(bytes);
        const startsACharacter = [1, 2, 3, 4].some((length) => isUtf8(bytes.subarray(offset, offset + length)));
        return !isUtf8(bytes) && isUtf8(bytes.subarray(0, offset)) && !startsACharacter;
      }),
      { numRuns: 2_000 },
    );
  });
});
