/**
 * The audit as a job over real HTTP: the audit router on a small express app (a
 * stand-in authenticator sets the principal from the bearer token), the job runner
 * over a real ledger on disk; and `ledger audit --url` against it.
 */
import { expect } from "chai";
import express from "express";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { errorHandler } from "../../server/api/error-handler";
import type { Principal } from "../../server/auth/key-store";
import { AppError } from "../../server/errors";
import { MerkleTreeStore } from "../../server/merkle";
import { openDatabase, openStores, type OpenStores } from "../../server/store/database";
import { AuditJobs, gatewayAuditRun, type AuditJob, type AuditRun } from "../../server/audit/audit-jobs";
import { createAuditRoutes } from "../../server/audit/routes";
import type { AuditReport } from "../../server/audit/report";
import { runAuditCommand, type AuditCommandIo } from "../../scripts/audit-command";
import { requireRole } from "../../server/auth/access";
import { LOG_ID, buildLedger, makeTempDir, readRecord, removeDir, treeSublevel, writeRecord } from "./support/ledger-fixture";

function principal(role: Principal["role"]): Principal {
  return { id: `key-${role}`, name: role, role, createdAt: "2026-11-26T00:00:00.000Z", ...(role === "regulator" ? { jurisdiction: "330102000000" } : {}) };
}

/** The contract this stand-in gateway says it anchors in (GET /v1/status). */
const CONTRACT = "0x" + "cd".repeat(20);
/** `ledger audit --url` options trusting the stand-in gateway's log. */
const TRUSTED = { logId: LOG_ID, contract: CONTRACT, chainId: "31337" };

/** An app with only the audit routes and the log identity of /v1/status, authenticating `Bearer <role>`. */
async function serve(jobs: AuditJobs): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  const v1 = express.Router();
  v1.use((req, _res, next) => {
    const role = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!role) throw new AppError({ code: "UNAUTHENTICATED", message: "missing Authorization: Bearer <API key> header" });
    req.principal = principal(role as Principal["role"]);
    next();
  });
  v1.use(createAuditRoutes({ jobs }));
  v1.get("/status", (req, res) => {
    requireRole(req.principal!, "admin", "auditor", "regulator");
    res.json({ log: { chainId: 31337, contract: CONTRACT, logId: LOG_ID, rpcUrl: "http://127.0.0.1:9" } });
  });
  app.use("/v1", v1);
  app.use(errorHandler(pino({ level: "silent" })));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function call(url: string, method: string, route: string, role?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(new URL(route, url), {
    method,
    headers: role ? { authorization: `Bearer ${role}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

async function waitForJob(url: string, id: string): Promise<AuditJob> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const { status, body } = await call(url, "GET", `/v1/audit/${id}`, "auditor");
    expect(status).to.equal(200);
    if (body.job.state !== "running") return body.job as AuditJob;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`audit job ${id} still running after 400 polls`);
}

function captureIo(): AuditCommandIo & { out: string; err: string } {
  const io = { out: "", err: "", stderrIsTTY: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

describe("audit: the job API over HTTP", function () {
  let dataDir: string;
  let stores: OpenStores;
  let jobs: AuditJobs;
  let server: { url: string; close: () => Promise<void> };

  before(async function () {
    dataDir = makeTempDir();
    await buildLedger(dataDir, { events: 500, checkpointSizes: [100, 250, 500] });
    stores = await openStores(dataDir);
    const tree = await MerkleTreeStore.open(treeSublevel(stores.db));
    jobs = await AuditJobs.open({ db: stores.db, run: gatewayAuditRun({ stores, tree, logId: LOG_ID }) });
    server = await serve(jobs);
  });

  after(async function () {
    await server?.close();
    await jobs?.stop();
    await stores?.close();
    removeDir(dataDir);
  });

  describe("when an auditor starts an audit", function () {
    it("answers 202 with a running job, which ends done with an intact report, also as the latest", async function () {
      const started = await call(server.url, "POST", "/v1/audit", "auditor");
      expect(started.status).to.equal(202);
      expect(started.body.job).to.include({ state: "running", processed: 0 });
      expect(started.body.job.id).to.match(/^[0-9a-f-]{36}$/);
      const job = await waitForJob(server.url, started.body.job.id);
      expect(job).to.include({ state: "done", processed: 500, total: 500 });
      expect(job.finishedAt).to.be.a("string");
      expect(job.report).to.include({ ok: true, eventsChecked: 500, checkpointsChecked: 3, chainChecked: false, logId: LOG_ID });
      const latest = await call(server.url, "GET", "/v1/audit/latest", "regulator");
      expect(latest.status).to.equal(200);
      expect(latest.body.job.id).to.equal(job.id);
    });

    it("answers with the report naming the leaf once a record was altered on disk", async function () {
      const original = await readRecord(stores.records, 321);
      const record = JSON.parse(original);
      record.event.fields = ["name", "address", "income"];
      await writeRecord(stores.records, 321, JSON.stringify(record));
      try {
        const started = await call(server.url, "POST", "/v1/audit", "admin");
        const job = await waitForJob(server.url, started.body.job.id);
        expect(job.state).to.equal("done");
        expect(job.report!.ok).to.equal(false);
        expect(job.report!.firstDivergence).to.include({ kind: "leaf-altered", index: 321 });
      } finally {
        await writeRecord(stores.records, 321, original);
      }
    });
  });

  describe("when the caller may not audit", function () {
    it("refuses a submitter with 403 and an anonymous caller with 401", async function () {
      const submitter = await call(server.url, "POST", "/v1/audit", "submitter");
      expect(submitter.status).to.equal(403);
      expect(submitter.body.error.code).to.equal("FORBIDDEN");
      expect((await call(server.url, "GET", "/v1/audit/latest", "citizen-portal")).status).to.equal(403);
      expect((await call(server.url, "POST", "/v1/audit")).status).to.equal(401);
    });
  });

  describe("when asked for a job that does not exist", function () {
    it("answers 400 for a malformed id and 404 for an unknown one", async function () {
      expect((await call(server.url, "GET", "/v1/audit/nope", "auditor")).status).to.equal(400);
      const unknown = await call(server.url, "GET", "/v1/audit/00000000-0000-4000-8000-000000000000", "auditor");
      expect(unknown.status).to.equal(404);
      expect(unknown.body.error.code).to.equal("NOT_FOUND");
    });
  });

  describe("`ledger audit --url`", function () {
    it("starts the job, polls it with progress on stderr, prints the verdict and exits 0", async function () {
      const io = captureIo();
      const code = await runAuditCommand({ url: server.url, key: "auditor", dataDir: ".", ...TRUSTED }, io, 20);
      expect(code, io.err).to.equal(0);
      expect(io.out).to.match(/^intact: 500 events, 3 checkpoints compared with their local records only/);
    });

    it("exits 1 when the gateway refuses the key, and 2 when no gateway answers", async function () {
      const refused = captureIo();
      expect(await runAuditCommand({ url: server.url, key: "submitter", dataDir: ".", ...TRUSTED }, refused, 20)).to.equal(1);
      expect(refused.err).to.include("the gateway refused (403 FORBIDDEN)");
      const unreachable = captureIo();
      expect(await runAuditCommand({ url: "http://127.0.0.1:9", key: "auditor", dataDir: ".", ...TRUSTED }, unreachable, 20)).to.equal(2);
      expect(unreachable.err).to.include("cannot reach the gateway");
      const keyless = captureIo();
      expect(await runAuditCommand({ url: server.url, dataDir: ".", ...TRUSTED }, keyless, 20)).to.equal(2);
    });

    it("needs a trust anchor (exit 2, saying how to give one) and refuses a gateway whose log is not in it (exit 1, UNTRUSTED_LOG), starting no audit", async function () {
      const before = (await call(server.url, "GET", "/v1/audit/latest", "auditor")).body?.job?.id;
      const none = captureIo();
      expect(await runAuditCommand({ url: server.url, key: "auditor", dataDir: "." }, none, 20)).to.equal(2);
      expect(none.err).to.include("--trust trusted-logs.json").and.include("ledger log-list --url");
      for (const other of [{ ...TRUSTED, contract: "0x" + "ee".repeat(20) }, { ...TRUSTED, chainId: "1" }, { ...TRUSTED, logId: "0x" + "01".repeat(32) }]) {
        const io = captureIo();
        expect(await runAuditCommand({ url: server.url, key: "auditor", dataDir: ".", ...other }, io, 20), io.err).to.equal(1);
        expect(io.err).to.include("UNTRUSTED_LOG").and.include(LOG_ID);
        expect(io.out).to.equal("");
      }
      const incomplete = captureIo();
      expect(await runAuditCommand({ url: server.url, key: "auditor", dataDir: ".", logId: LOG_ID, chainId: "31337" }, incomplete, 20)).to.equal(2);
      expect(incomplete.err).to.include("go together");
      expect((await call(server.url, "GET", "/v1/audit/latest", "auditor")).body?.job?.id).to.equal(before);
    });
  });
});

describe("audit: the job runner", function () {
  const report = (ok: boolean): AuditReport => ({
    ok,
    treeSize: 3,
    eventsChecked: 3,
    unfoldedEvents: 0,
    checkpointsChecked: 0,
    chainChecked: false,
    divergences: [],
    divergenceCount: 0,
    startedAt: "2026-11-26T00:00:00.000Z",
    durationMs: 1,
    eventsPerSecond: 3000,
  });

  /** A run that reports progress, then waits until released; `release` waits for the run to have begun. */
  function gatedRun(): { run: AuditRun; release: (outcome: AuditReport | Error) => Promise<void>; calls: () => number } {
    let calls = 0;
    let begun!: Promise<(outcome: AuditReport | Error) => void>;
    let begin!: (settle: (outcome: AuditReport | Error) => void) => void;
    const arm = () => (begun = new Promise((resolve) => (begin = resolve)));
    arm();
    const run: AuditRun = (onProgress) => {
      calls += 1;
      onProgress({ processed: 1, total: 3, elapsedMs: 1, eventsPerSecond: 1000 });
      return new Promise((resolve, reject) => begin((outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome))));
    };
    const release = async (outcome: AuditReport | Error) => {
      const settle = await begun;
      arm();
      settle(outcome);
    };
    return { run, release, calls: () => calls };
  }

  it("runs one audit at a time: a second start returns the running job", async function () {
    const gate = gatedRun();
    const jobs = await AuditJobs.open({ run: gate.run });
    const first = jobs.start();
    const second = jobs.start();
    expect(first.started).to.equal(true);
    expect(second.started).to.equal(false);
    expect(second.job.id).to.equal(first.job.id);
    await Promise.resolve();
    await Promise.resolve();
    expect(jobs.get(first.job.id)).to.include({ state: "running", processed: 1, total: 3 });
    expect(gate.calls()).to.equal(1);
    await gate.release(report(true));
    await jobs.idle();
    expect(jobs.get(first.job.id)).to.include({ state: "done" });
    const third = jobs.start();
    expect(third.started).to.equal(true);
    expect(third.job.id).to.not.equal(first.job.id);
    await gate.release(new Error("the disk went away"));
    await jobs.idle();
    expect(jobs.get(third.job.id)).to.include({ state: "failed", error: "the disk went away" });
  });

  it("keeps the last finished job in the `audit` sublevel, across a restart", async function () {
    const dir = makeTempDir();
    try {
      let db = await openDatabase(dir);
      const gate = gatedRun();
      let jobs = await AuditJobs.open({ db, run: gate.run });
      const { job } = jobs.start();
      await gate.release(report(false));
      await jobs.idle();
      await db.close();

      db = await openDatabase(dir);
      jobs = await AuditJobs.open({ db, run: gatedRun().run });
      expect(jobs.latest()).to.include({ id: job.id, state: "done" });
      expect(jobs.get(job.id)!.report).to.include({ ok: false, treeSize: 3 });
      await db.close();
    } finally {
      removeDir(dir);
    }
  });

  it("stops a running audit on shutdown: it ends as failed", async function () {
    const run: AuditRun = (_progress, signal) =>
      new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(new Error("the audit was stopped"))));
    const jobs = await AuditJobs.open({ run });
    const { job } = jobs.start();
    await Promise.resolve();
    await jobs.stop();
    expect(jobs.get(job.id)).to.include({ state: "failed", error: "the audit was stopped" });
  });
});
