/**
 * The console's browser modules, run under Node where they need no DOM: the
 * node:crypto shim against node:crypto, the hand-encoded rootAt call against
 * ethers, the organisation tree, the step-by-step receipt check; the Buffer-free
 * hex and canonical-bytes helpers against their Buffer spellings; and the bundle
 * the gateway serves (built, self-contained, strict CSP).
 */
import { expect } from "chai";
import express from "express";
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Interface } from "ethers";
import { ALERT_KINDS as SERVER_ALERT_KINDS } from "../../server/alerts/alert-store";
import { LEDGER_ABI } from "../../server/chain/ledger-abi";
import { buildConsoleBundle, createConsoleRouter, CONSOLE_CSP } from "../../server/console";
import { canonicalBytes, canonicalUtf8 } from "../../server/domain/envelope";
import { fromHex32, toHex } from "../../server/hex";
import { hashLeaf, inclusionProof, rootHash } from "../../server/merkle";
import type { LedgerReader } from "../../server/receipts/verify-receipt";
import * as shim from "../../server/console/web/node-crypto";
import { encodeRootAt, functionSelector, ROOT_AT_SELECTOR } from "../../server/console/web/json-rpc-reader";
import { buildOrgTree, divisionGroups, parentDivision } from "../../server/console/web/org-tree";
import { checkReceipt } from "../../server/console/web/receipt-check";
import { ALERT_KINDS } from "../../server/console/web/alert-kinds";

describe("console: browser modules under Node", function () {
  describe("the node:crypto shim (@noble/hashes)", function () {
    it("hashes and HMACs exactly as node:crypto does, in chunks, as bytes and hex", function () {
      for (const size of [0, 1, 55, 56, 64, 1000]) {
        const a = randomBytes(size);
        const b = randomBytes(7);
        const key = randomBytes(32);
        expect(toHex(shim.createHash("sha256").update(a).update(b).digest())).to.equal(toHex(createHash("sha256").update(a).update(b).digest()));
        expect(shim.createHmac("sha256", key).update("subject-42", "utf8").digest("hex")).to.equal(createHmac("sha256", key).update("subject-42", "utf8").digest("hex"));
        expect(shim.createHash("sha256").update("π ü 数据").digest("hex")).to.equal(createHash("sha256").update("π ü 数据").digest("hex"));
      }
      expect(() => shim.createHash("sha1")).to.throw(/only sha256/);
    });
  });

  describe("Buffer-free helpers shared with the browser", function () {
    it("toHex/fromHex32 agree with Buffer's hex, and reject what is not 32 bytes of hex", function () {
      for (const size of [0, 1, 32, 33]) {
        const bytes = randomBytes(size);
        expect(toHex(bytes)).to.equal("0x" + bytes.toString("hex"));
        expect(toHex(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))).to.equal("0x" + bytes.toString("hex"));
      }
      const hash = randomBytes(32);
      expect(Buffer.from(fromHex32("0x" + hash.toString("hex").toUpperCase())!).equals(hash)).to.equal(true);
      for (const bad of ["0x" + "0".repeat(63), "0x" + "g".repeat(64), hash.toString("hex"), 42, undefined]) expect(fromHex32(bad)).to.equal(undefined);
    });

    it("canonicalUtf8 gives the bytes of canonicalBytes (RFC 8785)", function () {
      const value = { b: [3, "ü", { z: 1, a: null }], a: "数据\u2028", n: -0 };
      expect(Buffer.from(canonicalUtf8(value)).equals(canonicalBytes(value))).to.equal(true);
    });
  });

  describe("the rootAt call, encoded by hand", function () {
    it("derives every selector of LEDGER_ABI as ethers does", function () {
      const iface = new Interface(LEDGER_ABI as unknown as string[]);
      for (const fragment of LEDGER_ABI.filter((f) => f.startsWith("function "))) {
        const name = /^function (\w+)/.exec(fragment)![1]!;
        expect(functionSelector(fragment), name).to.equal(iface.getFunction(name)!.selector);
      }
      expect(ROOT_AT_SELECTOR).to.equal("0x40757a6a");
    });

    it("encodes rootAt(logId, treeSize) as ethers does", function () {
      const iface = new Interface(LEDGER_ABI as unknown as string[]);
      const logId = "0x" + randomBytes(32).toString("hex");
      for (const size of [0, 1, 12, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
        expect(encodeRootAt(logId, size)).to.equal(iface.encodeFunctionData("rootAt", [logId, size]));
      }
      expect(() => encodeRootAt("0x12", 1)).to.throw(/32 bytes/);
      expect(() => encodeRootAt(logId, -1)).to.throw(/non-negative/);
    });
  });

  describe("the organisation tree", function () {
    it("places divisions by their codes, including levels the registry does not name, down to the grid", function () {
      expect(parentDivision("330102003004-G01")).to.equal("330102003004");
      expect(parentDivision("330102003004")).to.equal("330102003000");
      expect(parentDivision("330102003000")).to.equal("330102000000");
      expect(parentDivision("330102000000")).to.equal("330100000000");
      expect(parentDivision("330100000000")).to.equal("330000000000");
      expect(parentDivision("330000000000")).to.equal(undefined);
      const roots = buildOrgTree(
        [{ code: "330102000000", name: "Shangcheng", level: "county" }],
        [
          { id: "330102003004-G01:grid-office", name: "Grid office", division: "330102003004-G01", level: "grid" },
          { id: "330102000000:health", name: "Health", division: "330102000000", level: "county" },
          { id: "330102000000:civil-affairs", name: "Civil affairs", division: "330102000000", level: "county" },
        ],
      );
      const groups = divisionGroups(roots);
      expect(groups.map((g) => [g.code, g.level, g.path.join(" › "), g.orgs.map((o) => o.name)])).to.deep.equal([
        ["330000000000", "province", "330000000000", []],
        ["330100000000", "city", "330000000000 › 330100000000", []],
        ["330102000000", "county", "330000000000 › 330100000000 › Shangcheng", ["Civil affairs", "Health"]],
        ["330102003000", "township", "330000000000 › 330100000000 › Shangcheng › 330102003000", []],
        ["330102003004", "village", "330000000000 › 330100000000 › Shangcheng › 330102003000 › 330102003004", []],
        ["330102003004-G01", "grid", "330000000000 › 330100000000 › Shangcheng › 330102003000 › 330102003004 › 330102003004-G01", ["Grid office"]],
      ]);
    });

    it("offers the alert kinds the server has", function () {
      expect([...ALERT_KINDS]).to.deep.equal([...SERVER_ALERT_KINDS]);
    });
  });

  describe("the step-by-step receipt check", function () {
    const LOG = "0x" + "ab".repeat(32);
    const CONTRACT = "0x" + "cd".repeat(20);
    const envelopes = Array.from({ length: 5 }, (_, index) => ({ v: 1, log: LOG, index, receivedAt: "2026-11-26T02:00:00.000Z", submitter: "k1", event: { type: "access", purpose: `p${index}` } }));
    const leaves = envelopes.map((e) => canonicalUtf8(e));
    const root = toHex(rootHash(leaves));
    const receiptOf = (index: number) => structuredClone({
      version: 1,
      log: { id: LOG, chainId: 31337, contract: CONTRACT },
      entry: { index, envelope: envelopes[index], leafHash: toHex(hashLeaf(leaves[index]!)) },
      checkpoint: { treeSize: 5, rootHash: root, txHash: "0x" + "11".repeat(32), blockNumber: 7 },
      inclusionProof: inclusionProof(index, leaves).map(toHex),
    });
    const chain = (answers: Partial<{ chainId: number; code: boolean; root: string; fail: Error }>): LedgerReader => ({
      chainId: async () => {
        if (answers.fail) throw answers.fail;
        return answers.chainId ?? 31337;
      },
      hasCode: async () => answers.code ?? true,
      rootAt: async () => answers.root ?? root,
    });
    const states = (check: { steps: { state: string }[] }) => check.steps.map((s) => s.state);
    const TRUST = { logs: [{ logId: LOG as `0x${string}`, chainId: 31337, contract: CONTRACT as `0x${string}`, name: "test log", division: "330102000000" }] };

    it("passes all four steps for a good receipt of a trusted log", async function () {
      const check = await checkReceipt(JSON.stringify(receiptOf(3)), TRUST, chain({}));
      expect(check.ok).to.equal(true);
      expect(states(check)).to.deep.equal(["pass", "pass", "pass", "pass"]);
      expect(check.steps[0]!.detail).to.include(LOG).and.include("test log");
      expect(check.steps[1]!.detail).to.include(receiptOf(3).entry.leafHash);
    });

    it("fails at the step that breaks, with the code and reason of verifyReceipt", async function () {
      const other = { logs: [{ ...TRUST.logs[0]!, contract: ("0x" + "ef".repeat(20)) as `0x${string}` }] };
      const cases: [string, unknown, LedgerReader | undefined, string[], string, typeof TRUST | undefined][] = [
        ["not JSON", "{", chain({}), ["fail", "skipped", "skipped", "skipped"], "RECEIPT_MALFORMED", TRUST],
        ["malformed shape", { ...receiptOf(2), version: 2 }, chain({}), ["fail", "skipped", "skipped", "skipped"], "RECEIPT_MALFORMED", TRUST],
        ["a log outside the trust anchor", receiptOf(2), chain({}), ["fail", "skipped", "skipped", "skipped"], "UNTRUSTED_LOG", other],
        ["no trust anchor at all", receiptOf(2), chain({}), ["fail", "skipped", "skipped", "skipped"], "UNTRUSTED_LOG", undefined],
        ["altered envelope", (() => { const r = receiptOf(2); (r.entry.envelope as any).event.purpose = "x"; return r; })(), chain({}), ["pass", "fail", "skipped", "skipped"], "LEAF_HASH_MISMATCH", TRUST],
        ["envelope of another index", (() => { const r = receiptOf(2); r.entry.envelope = structuredClone(envelopes[1]!); return r; })(), chain({}), ["pass", "fail", "skipped", "skipped"], "ENVELOPE_MISMATCH", TRUST],
        ["altered proof", (() => { const r = receiptOf(2); r.inclusionProof[0] = `0x${"00".repeat(32)}`; return r; })(), chain({}), ["pass", "pass", "fail", "skipped"], "INCLUSION_PROOF_INVALID", TRUST],
        ["truncated proof", (() => { const r = receiptOf(2); r.inclusionProof.pop(); return r; })(), chain({}), ["pass", "pass", "fail", "skipped"], "INCLUSION_PROOF_INVALID", TRUST],
        ["another chain", receiptOf(2), chain({ chainId: 1 }), ["pass", "pass", "pass", "fail"], "WRONG_CHAIN", TRUST],
        ["no contract", receiptOf(2), chain({ code: false }), ["pass", "pass", "pass", "fail"], "CONTRACT_NOT_FOUND", TRUST],
        ["root never anchored", receiptOf(2), chain({ root: "0x" + "00".repeat(32) }), ["pass", "pass", "pass", "fail"], "ROOT_NOT_ANCHORED", TRUST],
        ["another root on chain", receiptOf(2), chain({ root: "0x" + "22".repeat(32) }), ["pass", "pass", "pass", "fail"], "ROOT_MISMATCH", TRUST],
        ["chain unreachable", receiptOf(2), chain({ fail: new Error("ECONNREFUSED") }), ["pass", "pass", "pass", "fail"], "CHAIN_UNREACHABLE", TRUST],
        ["no RPC endpoint", receiptOf(2), undefined, ["pass", "pass", "pass", "fail"], "CHAIN_UNREACHABLE", TRUST],
      ];
      for (const [what, receipt, reader, expected, code, trust] of cases) {
        const check = await checkReceipt(typeof receipt === "string" ? receipt : JSON.stringify(receipt), trust, reader);
        expect(check.ok, what).to.equal(false);
        expect(states(check), `${what}: ${check.reason}`).to.deep.equal(expected);
        expect(check.code, what).to.equal(code);
        expect(check.steps.find((s) => s.state === "fail")!.detail, what).to.equal(check.reason);
      }
    });
  });

  describe("the bundle and its routes", function () {
    let server: Server;
    let url: string;

    before(async function () {
      const app = express();
      // Source maps are a development setting (CONSOLE_SOURCE_MAPS), off by default: these tests ask for them.
      app.use("/console", createConsoleRouter({ sourceMaps: true }));
      server = await new Promise((resolve) => {
        const s = app.listen(0, "127.0.0.1", () => resolve(s));
      });
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(function (done) {
      server.close(() => done());
    });

    it("builds one self-contained script: the shared verification code in, node:crypto replaced, no Node module left; the page loads only its own files", async function () {
      const bundle = await buildConsoleBundle({ sourceMaps: true });
      const js = bundle.assets.get("app.js")!.body.toString("utf8");
      const map = JSON.parse(bundle.assets.get("app.js.map")!.body.toString("utf8")) as { sources: string[] };
      for (const source of ["server/receipts/verify-receipt.ts", "server/merkle/verify.ts", "server/domain/envelope.ts", "server/console/web/node-crypto.ts"]) {
        expect(map.sources.some((s) => s.includes(source)), source).to.equal(true);
      }
      expect(js).to.not.match(/\brequire\(|["'`]node:/);
      const html = bundle.assets.get("index.html")!.body.toString("utf8");
      expect(html.match(/(src|href)="[^"#]+"/g)).to.deep.equal(['href="/console/console.css"', 'src="/console/app.js"']);
      expect(html).to.not.match(/<script>|\sstyle=|\son[a-z]+=/);
    });

    it("serves the page, script, source map and stylesheet with their types and the console's CSP; nothing else", async function () {
      for (const [route, type] of [
        ["/console", "text/html"],
        ["/console/", "text/html"],
        ["/console/app.js", "text/javascript"],
        ["/console/app.js.map", "application/json"],
        ["/console/console.css", "text/css"],
      ]) {
        const response = await fetch(url + route);
        expect(response.status, route).to.equal(200);
        expect(response.headers.get("content-type"), route).to.match(new RegExp(`^${type}; charset=utf-8$`));
        expect(response.headers.get("content-security-policy"), route).to.equal(CONSOLE_CSP);
      }
      expect((await fetch(url + "/console/../package.json")).status).to.equal(404);
      expect((await fetch(url + "/console/bundle.ts")).status).to.equal(404);
      expect(CONSOLE_CSP).to.include("script-src 'self'").and.include("style-src 'self'").and.include("default-src 'none'").and.not.include("unsafe");
    });
  });
});
