/**
 * startAlerts as the gateway uses it, and its routes over real HTTP: the policy
 * file drives the observer and the webhooks, anchoring problems and refused
 * policy changes become alerts, and GET /alerts, POST /alerts/:id/ack and
 * GET /policy answer per role and jurisdiction.
 */
import { expect } from "chai";
import express from "express";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { errorHandler } from "../../server/api/error-handler";
import type { Principal } from "../../server/auth/key-store";
import type { BatchOp } from "../../server/query/index-observer";
import { openDatabase, type Database } from "../../server/store/database";
import { startAlerts, type Alert, type Alerts } from "../../server/alerts";
import {
  ADMIN,
  AUDITOR,
  CITIZEN_PORTAL,
  event,
  eventually,
  record,
  REGULATOR_330102,
  REGULATOR_330110,
  removeDir,
  silentLogger,
  SUBMITTER,
  tempDir,
} from "./helpers";

const SECRET = "webhook-secret-0123456789abcdef";

describe("startAlerts and the alert routes", () => {
  let dir: string;
  let policyFile: string;
  let db: Database;
  let alerts: Alerts;
  let anchorer: EventEmitter;
  let server: http.Server;
  let baseUrl: string;
  let hooks: { server: http.Server; url: string; bodies: string[] };

  const PRINCIPALS: Record<string, Principal> = {
    admin: ADMIN,
    auditor: AUDITOR,
    shangcheng: REGULATOR_330102,
    yuhang: REGULATOR_330110,
    submitter: SUBMITTER,
    portal: CITIZEN_PORTAL,
  };

  function writePolicy(document: unknown): void {
    fs.writeFileSync(policyFile, typeof document === "string" ? document : JSON.stringify(document));
  }

  const validPolicy = () => ({
    version: 1,
    negativeList: [
      { id: "NL-HR-001", description: "户籍身份证号不得共享给商业机构", severity: "critical", fields: ["id-number"], recipient: { orgs: ["*:commercial-*"] } },
    ],
    webhooks: [{ url: hooks.url, secret: SECRET }],
  });

  async function feed(records: ReturnType<typeof record>[]): Promise<void> {
    const ops: BatchOp[] = [];
    await alerts.observer.observe(records, ops);
    await db.batch(ops as never, { sync: true } as never);
    alerts.observer.committed?.();
  }

  async function call(who: string, method: string, url: string): Promise<{ status: number; body: any }> {
    const response = await fetch(baseUrl + url, { method, headers: { "x-test-principal": who } });
    return { status: response.status, body: await response.json() };
  }

  before(async () => {
    hooks = await new Promise((resolve) => {
      const bodies: string[] = [];
      const s = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          bodies.push(body);
          res.writeHead(200).end();
        });
      });
      s.listen(0, "127.0.0.1", () => resolve({ server: s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`, bodies }));
    });
  });
  after(async () => {
    hooks.server.closeAllConnections();
    await new Promise((resolve) => hooks.server.close(resolve));
  });

  beforeEach(async () => {
    dir = tempDir();
    policyFile = path.join(dir, "policy.json");
    writePolicy(validPolicy());
    db = await openDatabase(path.join(dir, "db"));
    anchorer = new EventEmitter();
    alerts = await startAlerts({ db, policyFile, logger: silentLogger, anchorer, policyPollMs: 30, webhooks: { baseDelayMs: 20, idleMs: 200 } });

    // The gateway's authenticate middleware sets req.principal; here a header names a test principal.
    const app = express();
    app.use((req, _res, next) => {
      req.principal = PRINCIPALS[String(req.headers["x-test-principal"])];
      next();
    });
    app.use("/v1", alerts.routes);
    app.use(errorHandler(silentLogger));
    server = await new Promise<http.Server>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await alerts.stop();
    await db.close();
    removeDir(dir);
  });

  it("refuses to start with an invalid policy file", async () => {
    const other = tempDir();
    const bad = path.join(other, "policy.json");
    fs.writeFileSync(bad, JSON.stringify({ version: 1, webhooks: [{ url: "file:///etc/passwd" }] }));
    const otherDb = await openDatabase(path.join(other, "db"));
    try {
      let error: Error | undefined;
      await startAlerts({ db: otherDb, policyFile: bad, logger: silentLogger }).catch((e) => (error = e));
      expect(error?.message).to.include("webhooks[0].url");
    } finally {
      await otherDb.close();
      removeDir(other);
    }
  });

  it("flags events with the file's policy and delivers the alert to its webhook", async () => {
    const before = hooks.bodies.length;
    await feed([record(0, event({ fields: ["id-number"], recipient: { org: "330102000000:commercial-bank" } }))]);
    const [flag] = await alerts.store.flagsFor(0);
    expect(flag).to.include({ kind: "negative-list", ruleId: "NL-HR-001", severity: "critical" });
    await eventually(() => hooks.bodies.length > before, "the webhook delivery");
    expect(JSON.parse(hooks.bodies[before]!)).to.deep.equal({ alert: flag });
  });

  it("turns anchoring problems into alerts that admins, auditors and regulators see", async () => {
    anchorer.emit("problem", { state: "diverged", message: "the chain's root for 8 leaves is 0x01…, the local tree's is 0x02…" });
    anchorer.emit("problem", { state: "chain-unreachable", message: "connect ECONNREFUSED" });
    const found = await eventually(async () => {
      const page = await alerts.store.list(ADMIN, { limit: 10, kind: "anchoring" });
      return page.alerts.length === 2 ? page.alerts : undefined;
    }, "the anchoring alerts");
    expect(found.map((a) => [a.ruleId, a.severity])).to.deep.equal([
      ["chain-unreachable", "warning"],
      ["diverged", "critical"],
    ]);
    expect(found[1]!.message).to.include("diverged").and.include("0x01");
    for (const who of ["auditor", "shangcheng", "yuhang"]) {
      expect((await call(who, "GET", "/alerts?kind=anchoring")).body.alerts, who).to.have.length(2);
    }
    expect((await call("submitter", "GET", "/alerts?kind=anchoring")).body.alerts).to.have.length(0);
  });

  it("raises a policy alert when the file changes to something invalid, and keeps the old policy", async () => {
    writePolicy({ ...validPolicy(), negativeList: [{ ...validPolicy().negativeList[0], severity: "urgent" }] });
    const [alert] = await eventually(async () => {
      const page = await alerts.store.list(ADMIN, { limit: 10, kind: "policy" });
      return page.alerts.length > 0 ? page.alerts : undefined;
    }, "the policy alert");
    expect(alert!.message).to.include("negativeList[0].severity");
    expect(alerts.policySource.current().negativeList[0]!.severity).to.equal("critical");

    const { status, body } = await call("shangcheng", "GET", "/policy");
    expect(status).to.equal(200);
    expect(body.status.error.issues[0].path).to.equal("negativeList[0].severity");
    expect(body.policy.negativeList[0].id).to.equal("NL-HR-001");
  });

  it("GET /policy redacts webhook secrets and is for admins, auditors and regulators", async () => {
    const { status, body } = await call("admin", "GET", "/policy");
    expect(status).to.equal(200);
    expect(body.policy.webhooks).to.deep.equal([{ url: hooks.url, secret: "[redacted]" }]);
    expect(JSON.stringify(body)).not.to.include(SECRET);
    expect(body.status).to.include({ file: policyFile, rules: 1, webhooks: 1 });
    expect((await call("submitter", "GET", "/policy")).status).to.equal(403);
    expect((await call("portal", "GET", "/policy")).status).to.equal(403);
  });

  describe("GET /alerts and POST /alerts/:id/ack", () => {
    let shangcheng: Alert;
    let yuhang: Alert;

    beforeEach(async () => {
      await feed([
        record(0, event({ fields: ["id-number"], actor: { org: "330102003004:civil-affairs" }, recipient: { org: "330102000000:commercial-bank" } })),
        record(1, event({ fields: ["id-number"], actor: { org: "330110001000:public-security" }, recipient: { org: "330110000000:commercial-telecom" } })),
      ]);
      [shangcheng, yuhang] = await alerts.store.flagsFor(0).then(async (a) => [a[0]!, (await alerts.store.flagsFor(1))[0]!]);
    });

    it("lists alerts newest first, scoped to the regulator's county", async () => {
      const all = await call("admin", "GET", "/alerts");
      expect(all.status).to.equal(200);
      expect(all.body.alerts.map((a: Alert) => a.eventIndex)).to.deep.equal([1, 0]);
      expect(all.body.next).to.equal(null);
      expect((await call("shangcheng", "GET", "/alerts")).body.alerts.map((a: Alert) => a.id)).to.deep.equal([shangcheng.id]);
      expect((await call("yuhang", "GET", "/alerts")).body.alerts.map((a: Alert) => a.id)).to.deep.equal([yuhang.id]);
    });

    it("pages with limit and cursor, and filters", async () => {
      const first = await call("admin", "GET", "/alerts?limit=1");
      expect(first.body.alerts.map((a: Alert) => a.id)).to.deep.equal([yuhang.id]);
      const second = await call("admin", "GET", `/alerts?limit=1&cursor=${first.body.next}`);
      expect(second.body.alerts.map((a: Alert) => a.id)).to.deep.equal([shangcheng.id]);
      expect((await call("admin", "GET", "/alerts?eventIndex=0")).body.alerts.map((a: Alert) => a.id)).to.deep.equal([shangcheng.id]);
      expect((await call("admin", "GET", "/alerts?severity=info")).body.alerts).to.deep.equal([]);
      expect((await call("admin", "GET", "/alerts?kind=negative-list&severity=critical&acknowledged=false")).body.alerts).to.have.length(2);
    });

    it("acknowledges a visible alert, and hides the others (404)", async () => {
      const denied = await call("yuhang", "POST", `/alerts/${shangcheng.id}/ack`);
      expect(denied.status).to.equal(404);
      expect(denied.body.error.code).to.equal("NOT_FOUND");

      const acked = await call("shangcheng", "POST", `/alerts/${shangcheng.id}/ack`);
      expect(acked.status).to.equal(200);
      expect(acked.body).to.include({ id: shangcheng.id, acknowledgedBy: REGULATOR_330102.id });
      expect((await call("admin", "GET", "/alerts?acknowledged=true")).body.alerts.map((a: Alert) => a.id)).to.deep.equal([shangcheng.id]);
      expect((await call("admin", "GET", "/alerts?acknowledged=false")).body.alerts.map((a: Alert) => a.id)).to.deep.equal([yuhang.id]);
    });

    it("answers 403 for roles that may not list or acknowledge", async () => {
      expect((await call("portal", "GET", "/alerts")).status).to.equal(403);
      const submitterAck = await call("submitter", "POST", `/alerts/${shangcheng.id}/ack`);
      expect(submitterAck.status).to.equal(403);
      expect(submitterAck.body.error.code).to.equal("FORBIDDEN");
      expect((await call("nobody", "GET", "/alerts")).status).to.equal(401);
    });

    const BAD: [string, RegExp][] = [
      ["/alerts?kind=bogus", /kind must be one of/],
      ["/alerts?severity=high", /severity must be one of/],
      ["/alerts?acknowledged=yes", /acknowledged must be true or false/],
      ["/alerts?eventIndex=-1", /eventIndex/],
      ["/alerts?limit=0", /limit/],
      ["/alerts?limit=100000", /limit/],
      ["/alerts?cursor=xyz", /cursor/],
      ["/alerts?sort=asc", /unknown query parameter: sort/],
      ["/alerts?kind=policy&kind=anchoring", /kind must be given once/],
    ];
    for (const [url, message] of BAD) {
      it(`answers 400 to ${url}`, async () => {
        const { status, body } = await call("admin", "GET", url);
        expect(status).to.equal(400);
        expect(body.error.code).to.equal("BAD_REQUEST");
        expect(body.error.message).to.match(message);
      });
    }
  });
});
