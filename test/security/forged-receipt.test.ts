/**
 * Issue 16, item 1: a forged receipt must not verify. The forger deploys a 41-byte
 * contract whose every call returns a root of their choice (runtime
 * `7f<root>60005260206000f3`), and writes a receipt for the genuine log id with
 * made-up envelope content, a 1-leaf tree (root = leaf hash) and that contract's
 * address. Its proof is sound and "its" contract answers rootAt with its root, so
 * only the trust anchor can refuse it (shown first: trusting the forger's contract,
 * it verifies). Refused as UNTRUSTED_LOG by `ledger verify` (exit 1 with --trust of
 * the genuine log list; exit 2 without any trust anchor), POST /v1/verify and the
 * console's verify page in real Chromium; the genuine receipt still verifies.
 *
 * Everything is real: one Anvil, the compiled ProvenanceLedger, two gateways on it
 * (A, and B that trusts A through TRUSTED_LOGS), the CLI as a child process.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { startAnvil, type AnvilNode } from "../../server/chain/anvil";
import { ledgerReader } from "../../server/chain/ledger-reader";
import { ConfigError, loadConfig } from "../../server/config";
import { ReceiptError } from "../../server/receipts/receipt-error";
import { verifyReceipt, verifyReceiptProof } from "../../server/receipts/verify-receipt";
import { externalChainEnv, startTestChain, type RegisteredLog, type TestChain } from "../support/chain-harness";
import {
  independentLeafHash,
  makeEvent,
  makeTempDir,
  removeDir,
  runCli,
  startTestGateway,
  stopAndRemove,
  trustArgs,
  waitForReceipt,
  type TestGateway,
} from "../support/gateway-harness";
import { launchChromium, recordProblems, screenshot } from "../console/support/browser";

const WAIT = { timeout: 15_000 };
/** Each `ledger` run starts Node and ts-node: generous on a busy machine. */
const CLI = { timeoutMs: 90_000 };
// Evaluated in the page, not in Node.
declare const document: any, location: any, getComputedStyle: any;

/** Init code that deploys `runtime` as is: CODECOPY it to memory, RETURN it. */
function deployCode(runtime: string): string {
  const size = runtime.length / 2;
  expect(size).to.be.below(256);
  const init = `60${size.toString(16).padStart(2, "0")}80600b6000396000f3`;
  expect(init.length / 2).to.equal(11);
  return "0x" + init + runtime;
}

describe("security: a forged receipt (its own contract, the genuine log id) is refused as UNTRUSTED_LOG", function () {
  this.timeout(180_000);

  let chain: TestChain;
  let logA: RegisteredLog;
  let logB: RegisteredLog;
  let a: TestGateway;
  let b: TestGateway | undefined;
  let dir: string;
  let genuine: any;
  let forged: any;
  let forger: string;
  const files: Record<string, string> = {};

  before(async function () {
    dir = makeTempDir("forged-receipt-");
    chain = await startTestChain();
    logA = await chain.registerLog("gateway A");
    logB = await chain.registerLog("gateway B");
    a = await startTestGateway({ env: { ...externalChainEnv(chain.rpcUrl, chain.contract, logA), LOG_NAME: "gateway A" } });
    const submitted = await a.api("POST", "/v1/events", { key: a.keys.submitter.key, json: makeEvent() });
    expect(submitted.status, submitted.text).to.equal(201);
    genuine = await waitForReceipt(a.url, a.keys.auditor.key, submitted.body.index);

    // The forgery: made-up content as event 0 of the genuine log, in a 1-leaf tree.
    const envelope = {
      v: 1,
      log: logA.logId,
      index: 0,
      receivedAt: "2026-11-26T02:00:00.000Z",
      submitter: genuine.entry.envelope.submitter,
      event: { ...genuine.entry.envelope.event, purpose: "an access that never happened", requestId: "forged-1" },
    };
    const leafHash = independentLeafHash(envelope);
    const deployed = await (await chain.admin.sendTransaction({ data: deployCode(`7f${leafHash.slice(2)}60005260206000f3`) })).wait();
    forger = deployed!.contractAddress!.toLowerCase();
    forged = {
      version: 1,
      log: { id: logA.logId, chainId: 31337, contract: forger },
      entry: { index: 0, envelope, leafHash },
      checkpoint: { treeSize: 1, rootHash: leafHash, txHash: deployed!.hash, blockNumber: deployed!.blockNumber },
      inclusionProof: [],
    };

    const write = (name: string, content: unknown) => {
      files[name] = path.join(dir, name);
      writeFileSync(files[name]!, typeof content === "string" ? content : JSON.stringify(content, null, 2));
    };
    write("genuine.json", genuine);
    write("forged.json", forged);
    // The genuine log list, saved the way README says.
    const saved = await runCli(["log-list", "--url", a.url], CLI);
    expect(saved.code, saved.stderr).to.equal(0);
    write("trusted-logs.json", saved.stdout);
    write("b-only.json", { version: 1, logs: [{ logId: logB.logId, chainId: 31337, contract: chain.contract, name: "gateway B", division: "330102000000" }] });
    write("wrong-chain.json", { version: 1, logs: [{ logId: logA.logId, chainId: 31338, contract: chain.contract, name: "gateway A", division: "330102000000" }] });
    write("bad.json", { version: 1, logs: [{ logId: logA.logId, chainId: 31337, contract: "0x1234", name: "gateway A", division: "330102000000" }] });
  });

  after(async function () {
    await stopAndRemove(b);
    await stopAndRemove(a);
    await chain?.stop();
    removeDir(dir);
  });

  it("is a real attack: the forgery's proof holds and its contract answers rootAt with its root, so trusting that contract it would verify", async function () {
    expect(verifyReceiptProof(forged).rootHash).to.equal(forged.checkpoint.rootHash);
    const reader = ledgerReader(chain.provider);
    expect((await reader.rootAt(forger, logA.logId, 1)).toLowerCase()).to.equal(forged.checkpoint.rootHash);
    const gullible = { logs: [{ logId: logA.logId as `0x${string}`, chainId: 31337, contract: forger as `0x${string}` }] };
    expect((await verifyReceipt(forged, gullible, reader)).receipt.entry.index).to.equal(0);
    const run = await runCli(["verify", files["forged.json"]!, "--rpc", chain.rpcUrl, "--log-id", logA.logId, "--contract", forger, "--chain-id", "31337"], CLI);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/^valid: /);
    // … whereas against the genuine log it is refused before any chain call.
    const refused = await verifyReceipt(forged, { logs: [{ ...gullible.logs[0]!, contract: chain.contract as `0x${string}` }] }, reader).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(ReceiptError);
    expect((refused as ReceiptError).code).to.equal("UNTRUSTED_LOG");
  });

  it("GET /v1/log-list, without a key, serves the gateway's own entry in lowercase hex; `ledger log-list` prints it as JSON", async function () {
    const answer = await fetch(`${a.url}/v1/log-list`);
    expect(answer.status).to.equal(200);
    const list = await answer.json();
    // noteKey: the open log's checkpoint key, as /v1/status names it.
    const noteKey = (await a.api("GET", "/v1/status", { key: a.keys.admin.key })).body.log.noteKey;
    expect(noteKey).to.match(/^provenance-ledger\/31337\/0x[0-9a-f]{40}\/0x[0-9a-f]{64}\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);
    expect(list).to.deep.equal({ version: 1, logs: [{ logId: logA.logId.toLowerCase(), chainId: 31337, contract: chain.contract.toLowerCase(), name: "gateway A", division: "330102000000", noteKey }] });
    expect(JSON.stringify(list)).to.not.match(/0x[0-9a-f]*[A-F]/);
    expect(JSON.parse(readFileSync(files["trusted-logs.json"]!, "utf8"))).to.deep.equal(list);
  });

  describe("ledger verify", function () {
    it("refuses the forgery with --trust of the genuine log list: exit 1, UNTRUSTED_LOG; with no trust anchor: exit 2, saying how to give one", async function () {
      const [trusted, json, bare] = await Promise.all([
        runCli(["verify", files["forged.json"]!, "--rpc", chain.rpcUrl, "--trust", files["trusted-logs.json"]!], CLI),
        runCli(["verify", files["forged.json"]!, "--rpc", chain.rpcUrl, "--json", ...trustArgs(a.gateway)], CLI),
        runCli(["verify", files["forged.json"]!, "--rpc", chain.rpcUrl], CLI),
      ]);
      expect(trusted.code, trusted.stdout + trusted.stderr).to.equal(1);
      expect(trusted.stderr).to.include("invalid (UNTRUSTED_LOG):").and.include(forger).and.include(chain.contract.toLowerCase());
      expect(trusted.stdout).to.not.match(/valid:/);
      expect(json.code).to.equal(1);
      expect(JSON.parse(json.stdout)).to.include({ valid: false, code: "UNTRUSTED_LOG" });
      expect(bare.code, bare.stdout + bare.stderr).to.equal(2);
      expect(bare.stderr).to.include("--trust trusted-logs.json").and.include("ledger log-list --url");
      expect(bare.stdout).to.equal("");
    });

    it("still verifies the genuine receipt with --trust and with --log-id/--contract/--chain-id", async function () {
      const [withList, withFlags] = await Promise.all([
        runCli(["verify", files["genuine.json"]!, "--rpc", chain.rpcUrl, "--trust", files["trusted-logs.json"]!], CLI),
        runCli(["verify", files["genuine.json"]!, "--rpc", chain.rpcUrl, ...trustArgs(a.gateway)], CLI),
      ]);
      for (const run of [withList, withFlags]) {
        expect(run.code, run.stderr).to.equal(0);
        expect(run.stdout).to.match(new RegExp(`^valid: event ${genuine.entry.index} of log ${logA.logId}`));
      }
    });

    it("refuses the genuine receipt when the trust entry names another chain id, another log, or the RPC serves another chain", async function () {
      let other: AnvilNode | undefined;
      try {
        other = await startAnvil({ chainId: 31338 });
        const [wrongChainEntry, otherLog, otherRpc] = await Promise.all([
          runCli(["verify", files["genuine.json"]!, "--rpc", chain.rpcUrl, "--trust", files["wrong-chain.json"]!], CLI),
          runCli(["verify", files["genuine.json"]!, "--rpc", chain.rpcUrl, "--trust", files["b-only.json"]!], CLI),
          runCli(["verify", files["genuine.json"]!, "--rpc", other.rpcUrl, "--trust", files["trusted-logs.json"]!], CLI),
        ]);
        expect(wrongChainEntry.code, wrongChainEntry.stderr).to.equal(1);
        expect(wrongChainEntry.stderr).to.include("invalid (UNTRUSTED_LOG):").and.include("on chain 31338");
        expect(otherLog.code, otherLog.stderr).to.equal(1);
        expect(otherLog.stderr).to.include("invalid (UNTRUSTED_LOG):");
        expect(otherRpc.code, otherRpc.stderr).to.equal(1);
        expect(otherRpc.stderr).to.include("invalid (WRONG_CHAIN):").and.include("serves chain 31338");
      } finally {
        await other?.stop();
      }
    });

    it("refuses a bad trust anchor with a clear message and exit 2: malformed, missing, not JSON, incomplete or mixed flags", async function () {
      writeFileSync(path.join(dir, "not-json.json"), "{ version: 1");
      const cases: [string[], RegExp][] = [
        [["--trust", files["bad.json"]!], /logs\[0\]\.contract/],
        [["--trust", path.join(dir, "missing.json")], /cannot read the log list .*missing\.json: ENOENT/],
        [["--trust", path.join(dir, "not-json.json")], /not-json\.json is not JSON/],
        [["--log-id", logA.logId, "--contract", chain.contract], /--log-id, --contract and --chain-id go together/],
        [["--log-id", logA.logId, "--contract", chain.contract, "--chain-id", "x"], /chainId/],
        [["--trust", files["trusted-logs.json"]!, "--log-id", logA.logId], /not both/],
      ];
      const runs: { says: RegExp; run: Awaited<ReturnType<typeof runCli>> }[] = [];
      // Two at a time: six Node starts at once on a shared 2-core machine outlast any timeout.
      for (let i = 0; i < cases.length; i += 2) {
        runs.push(...(await Promise.all(cases.slice(i, i + 2).map(async ([args, says]) => ({ says, run: await runCli(["verify", files["genuine.json"]!, "--rpc", chain.rpcUrl, ...args], CLI) })))));
      }
      for (const { says, run } of runs) {
        expect(run.code, run.stderr).to.equal(2);
        expect(run.stderr).to.match(/^ledger: /).and.match(says);
        expect(run.stderr, "one line, no stack trace").to.not.match(/\n\s+at /);
        expect(run.stdout).to.equal("");
      }
    });
  });

  describe("POST /v1/verify", function () {
    it("answers the forgery 200 { valid: false, code: UNTRUSTED_LOG, reason }, the genuine receipt valid", async function () {
      const refused = await a.api("POST", "/v1/verify", { key: a.keys.auditor.key, json: forged });
      expect(refused.status, refused.text).to.equal(200);
      expect(refused.body).to.include({ valid: false, code: "UNTRUSTED_LOG" });
      expect(refused.body.reason).to.include(forger);
      const accepted = await a.api("POST", "/v1/verify", { key: a.keys.auditor.key, json: genuine });
      expect(accepted.body).to.include({ valid: true, index: genuine.entry.index, chainId: 31337 });
    });

    it("a gateway with TRUSTED_LOGS accepts the listed log's receipts besides its own; the other gateway refuses its receipts", async function () {
      b = await startTestGateway({ env: { ...externalChainEnv(chain.rpcUrl, chain.contract, logB), LOG_NAME: "gateway B", TRUSTED_LOGS: files["trusted-logs.json"]! } });
      const submitted = await b.api("POST", "/v1/events", { key: b.keys.submitter.key, json: makeEvent() });
      expect(submitted.status, submitted.text).to.equal(201);
      const ofB = await waitForReceipt(b.url, b.keys.auditor.key, submitted.body.index);
      expect((await b.api("POST", "/v1/verify", { key: b.keys.auditor.key, json: genuine })).body).to.include({ valid: true });
      expect((await b.api("POST", "/v1/verify", { key: b.keys.auditor.key, json: ofB })).body).to.include({ valid: true });
      expect((await b.api("POST", "/v1/verify", { key: b.keys.auditor.key, json: forged })).body).to.include({ valid: false, code: "UNTRUSTED_LOG" });
      expect((await a.api("POST", "/v1/verify", { key: a.keys.auditor.key, json: ofB })).body).to.include({ valid: false, code: "UNTRUSTED_LOG" });
      // Its log list is still its own entry alone.
      expect(((await (await fetch(`${b.url}/v1/log-list`)).json()) as any).logs.map((l: any) => l.logId)).to.deep.equal([logB.logId.toLowerCase()]);
    });

    it("refuses to start with a TRUSTED_LOGS file listing its own log id at another contract", async function () {
      const clash = path.join(dir, "clash.json");
      writeFileSync(clash, JSON.stringify({ version: 1, logs: [{ logId: logA.logId, chainId: 31337, contract: forger, name: "gateway A", division: "330102000000" }] }));
      const dataDir = makeTempDir("forged-receipt-clash-");
      try {
        const refused = await startTestGateway({ dataDir, env: { ...externalChainEnv(chain.rpcUrl, chain.contract, logA), TRUSTED_LOGS: clash } }).then(
          (g) => g.stop().then(() => undefined),
          (error: unknown) => error,
        );
        expect(refused).to.be.instanceOf(ConfigError);
        expect((refused as Error).message).to.include(`lists this gateway's log ${logA.logId.toLowerCase()} at contract ${forger}`);
      } finally {
        removeDir(dataDir);
      }
    });

    it("refuses to start with a TRUSTED_LOGS file that is malformed or missing", function () {
      for (const [file, says] of [
        [files["bad.json"]!, /TRUSTED_LOGS: .*logs\[0\]\.contract/],
        [path.join(dir, "missing.json"), /TRUSTED_LOGS: cannot read the log list/],
      ] as const) {
        const error = (() => {
          try {
            loadConfig({ DATA_DIR: dir, TRUSTED_LOGS: file });
          } catch (e) {
            return e;
          }
        })();
        expect(error).to.be.instanceOf(ConfigError);
        expect((error as Error).message).to.match(says);
      }
    });
  });

  describe("the console's verify page, in Chromium", function () {
    let browser: Browser;
    let page: Page;
    let problems: string[];

    before(async function () {
      browser = await launchChromium();
      page = await browser.newPage();
      problems = recordProblems(page);
      await page.goto(`${a.url}/console/`, { waitUntil: "load" });
      await page.waitForSelector("#api-key", WAIT);
      await page.type("#api-key", a.keys.auditor.key);
      await page.click("#sign-in-button");
      await page.waitForSelector("#nav:not([hidden])", WAIT);
      await page.evaluate(() => (location.hash = "#/verify"));
      await page.waitForSelector("#verify-button", WAIT);
      await page.waitForFunction(() => document.getElementById("rpc-url").value !== "", WAIT);
    });

    after(async function () {
      await browser?.close().catch(() => undefined);
    });

    afterEach(function () {
      expect(problems, "errors reported by the page").to.deep.equal([]);
    });

    const text = (selector: string) => page.$eval(selector, (e) => (e as any).innerText);
    async function verify(receipt: unknown): Promise<{ states: string[]; verdict: string; className: string; color: string }> {
      await page.$eval("#receipt-text", (e, value) => {
        (e as any).value = value;
        e.dispatchEvent(new Event("input", { bubbles: true }));
      }, JSON.stringify(receipt, null, 2));
      await page.waitForFunction(() => !document.getElementById("verdict"), WAIT);
      await page.click("#verify-button");
      await page.waitForSelector("#verdict", WAIT);
      return {
        states: await page.$$eval("#verify-steps li", (lis) => lis.map((li) => (li as any).dataset.state!)),
        verdict: await text("#verdict"),
        className: await page.$eval("#verdict", (e) => e.className),
        color: await page.$eval("#verdict", (e) => getComputedStyle(e).borderTopColor),
      };
    }
    const isRed = (color: string) => {
      const [r, g, bl] = color.match(/\d+/g)!.map(Number);
      return r! > 150 && r! > 2 * g! && r! > 2 * bl!;
    };

    it("by default trusts the gateway's own log: the forgery shows as not trusted, in red; the genuine receipt as valid", async function () {
      const refused = await verify(forged);
      expect(refused.states).to.deep.equal(["fail", "skipped", "skipped", "skipped"]);
      expect(refused.verdict).to.match(/^✗ Not trusted\./).and.include("UNTRUSTED_LOG").and.not.include("Valid");
      expect(refused.className).to.include("verdict-fail");
      expect(isRed(refused.color), `verdict border ${refused.color}`).to.equal(true);
      expect(await text("#trust-source")).to.include("gateway A").and.include("this gateway's own log list");
      console.log(`      screenshot: ${await screenshot(page, "verify-forged-untrusted")}`);

      const valid = await verify(genuine);
      expect(valid.states).to.deep.equal(["pass", "pass", "pass", "pass"]);
      expect(valid.verdict).to.match(/^✓ Valid receipt\./);
      expect(isRed(valid.color), `verdict border ${valid.color}`).to.equal(false);
    });

    it("with a loaded log list of another log, the genuine receipt is not trusted either; a malformed list is refused and changes nothing", async function () {
      const input = await page.$("#log-list-file");
      await (input as any).uploadFile(files["bad.json"]);
      await page.waitForFunction(() => document.getElementById("trust-source").innerText.includes("malformed"), WAIT);
      expect(await text("#trust-source")).to.include("this gateway's own log list");
      expect((await verify(genuine)).verdict).to.match(/^✓ Valid receipt\./);

      await (input as any).uploadFile(files["b-only.json"]);
      await page.waitForFunction(() => document.getElementById("trust-source").innerText.includes("b-only.json"), WAIT);
      const refused = await verify(genuine);
      expect(refused.states).to.deep.equal(["fail", "skipped", "skipped", "skipped"]);
      expect(refused.verdict).to.match(/^✗ Not trusted\./).and.include("UNTRUSTED_LOG");
      expect(isRed(refused.color)).to.equal(true);

      await (input as any).uploadFile(files["trusted-logs.json"]);
      await page.waitForFunction(() => document.getElementById("trust-source").innerText.includes("trusted-logs.json"), WAIT);
      expect((await verify(genuine)).verdict).to.match(/^✓ Valid receipt\./);
      expect((await verify(forged)).verdict).to.match(/^✗ Not trusted\./);
    });
  });

  describe("ledger audit", function () {
    it("--url needs a trust anchor (exit 2), runs against a trusted gateway (exit 0), refuses a gateway whose log is not trusted (exit 1)", async function () {
      const key = ["--url", a.url, "--key", a.keys.auditor.key];
      const [none, trusted, other] = await Promise.all([
        runCli(["audit", ...key], CLI),
        runCli(["audit", ...key, "--trust", files["trusted-logs.json"]!], CLI),
        runCli(["audit", ...key, "--trust", files["b-only.json"]!], CLI),
      ]);
      expect(none.code, none.stderr).to.equal(2);
      expect(none.stderr).to.include("--trust trusted-logs.json");
      expect(trusted.code, trusted.stdout + trusted.stderr).to.equal(0);
      expect(trusted.stdout).to.match(/^intact: /);
      expect(other.code, other.stdout + other.stderr).to.equal(1);
      expect(other.stderr).to.include("UNTRUSTED_LOG").and.include(logA.logId);
      expect(other.stdout).to.not.match(/intact/);
    });

    it("--data-dir with a trust anchor checks the directory's log and contract: the genuine contract passes, the forger's is refused", async function () {
      await a.stop();
      const common = ["audit", "--data-dir", a.dataDir, "--rpc", chain.rpcUrl, "--trust", files["trusted-logs.json"]!];
      const genuineRun = await runCli([...common, "--contract", chain.contract], CLI);
      expect(genuineRun.code, genuineRun.stdout + genuineRun.stderr).to.equal(0);
      expect(genuineRun.stdout).to.match(/^intact: .*each compared with the chain/);
      const forgerRun = await runCli([...common, "--contract", forger], CLI);
      expect(forgerRun.code, forgerRun.stdout + forgerRun.stderr).to.equal(1);
      expect(forgerRun.stderr).to.include("UNTRUSTED_LOG").and.include(forger);
    });
  });
});
