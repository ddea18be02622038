/**
 * Dashboard statistics and the organisation registry on real gateways.
 *
 * /v1/stats: counts per level, department, type and day equal the aggregates
 * computed here from the seeded events, for several day ranges and divisions.
 * /v1/stats/anchoring: with CHECKPOINT_MAX_EVENTS=40 and a one-hour age limit the
 * checkpoints fall deterministically at 40, 80 and 120 events; each is listed
 * with the events it covers and its lag, agreeing with /v1/checkpoints and the
 * events' own arrival times, also when the history is paged with `limit`.
 * Registry: ORGS_FILE as CSV (config/orgs.example.csv) and as JSON at boot; PUT
 * /v1/orgs (admin only, 400 naming each bad path, all-or-nothing), GET ?division=
 * subtrees, DELETE /v1/orgs/:id, and `ledger orgs import` over HTTP and on the
 * stopped data directory.
 */
import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadConfig } from "../../server/config";
import { startGateway } from "../../server/gateway";
import { ROOT, makeTempDir, removeDir, runCli, waitFor } from "../support/gateway-harness";
import {
  DIVISIONS,
  REGISTRY,
  divisionInside,
  divisionOf,
  expectedStatistics,
  generateEvents,
  levelOf,
  orgInside,
  queryString,
  startOversightGateway,
  submitAll,
  type OversightGateway,
  type Seeded,
} from "../support/oversight-world";

const EXAMPLE_CSV = path.join(ROOT, "config", "orgs.example.csv");

/** The example CSV read here: `id,name` lines; an id with a colon is an organisation. */
function readCsvRegistry(file: string): { divisions: Map<string, string>; orgs: Map<string, string> } {
  const divisions = new Map<string, string>();
  const orgs = new Map<string, string>();
  for (const line of readFileSync(file, "utf8").split(/\r?\n/).slice(1)) {
    if (!line.trim()) continue;
    const [id, name] = [line.slice(0, line.indexOf(",")), line.slice(line.indexOf(",") + 1)];
    (id.includes(":") ? orgs : divisions).set(id, name);
  }
  return { divisions, orgs };
}

interface Listing {
  divisions: { code: string; name: string; level: string }[];
  orgs: { id: string; name: string; division: string; level: string }[];
}

describe("oversight: statistics, anchoring history and the organisation registry", function () {
  this.timeout(120_000);

  let g: OversightGateway;
  let dir: string;
  let regulator: string;
  let auditor: string;
  let submitterKey: string;
  let portal: string;
  const seeded: Seeded[] = [];
  const csv = readCsvRegistry(EXAMPLE_CSV);

  const admin = () => g.keys.admin.key;
  const orgsListing = async (query = "", key = admin()): Promise<Listing> => {
    const r = await g.api("GET", `/v1/orgs${query}`, { key });
    expect(r.status, r.text).to.equal(200);
    return r.body as Listing;
  };

  before(async () => {
    dir = makeTempDir("oversight-stats-");
    g = await startOversightGateway({
      dataDir: path.join(dir, "data"),
      env: { ORGS_FILE: EXAMPLE_CSV, CHECKPOINT_MAX_EVENTS: "40", CHECKPOINT_MAX_AGE_MS: "3600000" },
    });
    regulator = (await g.createKey({ name: "regulator A1", role: "regulator", jurisdiction: "330102000000" })).key;
    auditor = (await g.createKey({ name: "auditor", role: "auditor" })).key;
    portal = (await g.createKey({ name: "portal", role: "citizen-portal" })).key;
    const sub = await g.createKey({ name: "submitter anywhere", role: "submitter" });
    submitterKey = sub.key;
    const events = generateEvents(145, 31337, "st");
    // 40, 40, 40 then 25: a checkpoint after each of the first three, the last 25 waiting.
    for (const [from, to] of [[0, 40], [40, 80], [80, 120], [120, 145]] as const) {
      const part = events.slice(from, to);
      const indices = await submitAll(g, submitterKey, part);
      part.forEach((event, i) => seeded.push({ index: indices[i]!, event, submitter: sub.id }));
      if (to % 40 === 0) {
        await waitFor(`checkpoint of ${to} events`, async () => {
          const latest = await g.api("GET", "/v1/checkpoints/latest", { key: admin() });
          return latest.status === 200 && latest.body.treeSize === to ? true : undefined;
        }, 30_000);
      }
    }
    await g.gateway.indexer.caughtUp(145);
  });

  after(async () => {
    if (g) await g.stop();
    removeDir(dir);
  });

  describe("GET /v1/stats", () => {
    const statsOf = async (query: Record<string, string>, key = admin()) => {
      const r = await g.api("GET", `/v1/stats${queryString(query)}`, { key });
      expect(r.status, `${JSON.stringify(query)}: ${r.text}`).to.equal(200);
      return r.body;
    };
    const compare = (body: any, expected: ReturnType<typeof expectedStatistics>, what: string) => {
      const { total, byLevel, byDepartment, byType, byDay } = body;
      expect({ total, byLevel, byDepartment, byType, byDay }, what).to.deep.equal(expected);
    };

    it("counts per level, department, type and day equal the aggregates of the seeded events, for several day ranges", async () => {
      for (const [from, to] of [["2026-11-20", "2026-11-25"], ["2026-11-22", "2026-11-23"], ["2026-11-24", "2026-11-24"], ["2026-11-01", "2026-11-19"], ["2026-11-25", "2026-12-31"]]) {
        const body = await statsOf({ from: from!, to: to! });
        expect(body.from).to.equal(from);
        expect(body.to).to.equal(to);
        compare(body, expectedStatistics(seeded, () => true, from!, to!), `${from}..${to}`);
      }
      const all = await statsOf({ from: "2026-11-20", to: "2026-11-25" });
      expect(all.total).to.equal(145);
      for (const level of ["province", "city", "county", "township", "village", "grid"]) expect(all.byLevel[level], level).to.be.greaterThan(0);
    });

    it("division= narrows the counts to actors inside it, at every level", async () => {
      for (const division of ["330000000000", "330100000000", "330102000000", "330102003000", "330102003004", "330102003004-G01", "330103001002-G01", "310000000000", "330104000000"]) {
        const body = await statsOf({ from: "2026-11-20", to: "2026-11-25", division });
        compare(body, expectedStatistics(seeded, (s) => orgInside(s.event.actor.org, division), "2026-11-20", "2026-11-25"), division);
      }
    });

    it("a regulator's counts are its actors'; an unbound auditor's are everyone's", async () => {
      compare(await statsOf({ from: "2026-11-20", to: "2026-11-25" }, regulator), expectedStatistics(seeded, (s) => orgInside(s.event.actor.org, "330102000000"), "2026-11-20", "2026-11-25"), "regulator");
      compare(await statsOf({ from: "2026-11-21", to: "2026-11-22" }, auditor), expectedStatistics(seeded, () => true, "2026-11-21", "2026-11-22"), "auditor");
      expect((await g.api("GET", "/v1/stats", { key: submitterKey })).status).to.equal(403);
      expect((await g.api("GET", "/v1/stats", { key: portal })).status).to.equal(403);
    });

    it("without from/to: the 30 days up to today (UTC)", async () => {
      const body = await statsOf({});
      const today = new Date().toISOString().slice(0, 10);
      const from = new Date(Date.parse(today) - 29 * 86_400_000).toISOString().slice(0, 10);
      expect([body.from, body.to]).to.deep.equal([from, today]);
      compare(body, expectedStatistics(seeded, () => true, from, today), "default window");
    });

    it("refuses bad parameters with 400", async () => {
      for (const query of [{ from: "yesterday" }, { to: "2026-13-01" }, { from: "2026-11-31" }, { from: "2026-11-22T00:00:00Z" }, { division: "3301" }, { org: "330102000000:health" }, { from: "2026-11-25", to: "2026-11-20" }]) {
        const r = await g.api("GET", `/v1/stats${queryString(query)}`, { key: admin() });
        expect(r.status, `${JSON.stringify(query)}: ${r.text}`).to.equal(400);
      }
    });
  });

  describe("GET /v1/stats/anchoring", () => {
    it("lists each checkpoint with the events it covers and its lag, newest first, and the events still waiting", async () => {
      const r = await g.api("GET", "/v1/stats/anchoring", { key: admin() });
      expect(r.status, r.text).to.equal(200);
      const history = r.body;
      expect(history.pendingEvents).to.equal(25);
      expect(history.oldestPendingAgeMs).to.be.a("number").and.at.least(0);
      expect(history.checkpoints.map((c: { treeSize: number }) => c.treeSize)).to.deep.equal([120, 80, 40]);
      expect(history.checkpoints.map((c: { events: number }) => c.events)).to.deep.equal([40, 40, 40]);

      const listed = await g.api("GET", "/v1/checkpoints", { key: admin() });
      expect(listed.status).to.equal(200);
      for (const [i, c] of (history.checkpoints as any[]).entries()) {
        const same = listed.body.checkpoints[i];
        expect({ treeSize: c.treeSize, rootHash: c.rootHash, txHash: c.txHash, blockNumber: c.blockNumber, anchoredAt: c.anchoredAt }).to.deep.equal({
          treeSize: same.treeSize,
          rootHash: same.rootHash,
          txHash: same.txHash,
          blockNumber: same.blockNumber,
          anchoredAt: same.anchoredAt,
        });
        // Lag: the anchoring block's time minus the arrival of the newest event it covers; block times
        // have whole seconds, so a lag under a second may come out negative and is reported as 0.
        const newest = await g.api("GET", `/v1/events/${c.treeSize - 1}`, { key: admin() });
        expect(c.lagMs, `lag of checkpoint ${c.treeSize}`).to.equal(Math.max(0, Date.parse(c.anchoredAt) - Date.parse(newest.body.envelope.receivedAt)));
      }
      // The regulator and the auditor may read it too; the submitter and the portal may not.
      expect((await g.api("GET", "/v1/stats/anchoring", { key: regulator })).status).to.equal(200);
      expect((await g.api("GET", "/v1/stats/anchoring", { key: auditor })).status).to.equal(200);
      expect((await g.api("GET", "/v1/stats/anchoring", { key: submitterKey })).status).to.equal(403);
      expect((await g.api("GET", "/v1/stats/anchoring", { key: portal })).status).to.equal(403);
    });

    it("a page of the history (limit) still counts each checkpoint's own events, not everything since the start", async () => {
      for (const limit of [1, 2]) {
        const r = await g.api("GET", `/v1/stats/anchoring?limit=${limit}`, { key: admin() });
        expect(r.status, r.text).to.equal(200);
        expect(r.body.checkpoints.map((c: { treeSize: number; events: number }) => [c.treeSize, c.events]), `limit ${limit}`).to.deep.equal(
          [[120, 40], [80, 40]].slice(0, limit),
        );
      }
      for (const limit of ["0", "1001", "x"]) expect((await g.api("GET", `/v1/stats/anchoring?limit=${limit}`, { key: admin() })).status).to.equal(400);
    });
  });

  describe("the organisation registry", () => {
    it("ORGS_FILE as CSV is loaded at boot: every division and organisation, with its level", async () => {
      const listing = await orgsListing();
      expect(new Map(listing.divisions.map((d) => [d.code, d.name]))).to.deep.equal(csv.divisions);
      expect(new Map(listing.orgs.map((o) => [o.id, o.name]))).to.deep.equal(csv.orgs);
      for (const d of listing.divisions) expect(d.level, d.code).to.equal(levelOf(d.code));
      for (const o of listing.orgs) {
        expect(o.division).to.equal(divisionOf(o.id));
        expect(o.level, o.id).to.equal(levelOf(divisionOf(o.id)));
      }
    });

    it("GET /v1/orgs?division= lists the subtree; readable by all but the citizen portal", async () => {
      for (const division of ["330000000000", "330102000000", "330102003000", "330102003004", "330102003004-G01", "330200000000"]) {
        const listing = await orgsListing(`?division=${division}`, regulator);
        expect(listing.divisions.map((d) => d.code).sort(), division).to.deep.equal([...csv.divisions.keys()].filter((c) => divisionInside(c, division)).sort());
        expect(listing.orgs.map((o) => o.id).sort(), division).to.deep.equal([...csv.orgs.keys()].filter((id) => orgInside(id, division)).sort());
      }
      for (const key of [auditor, submitterKey]) expect((await g.api("GET", "/v1/orgs", { key })).status).to.equal(200);
      expect((await g.api("GET", "/v1/orgs", { key: portal })).status).to.equal(403);
      for (const bad of ["3301", "330102003004-X", ""]) {
        const r = await g.api("GET", `/v1/orgs?division=${bad}`, { key: admin() });
        expect(r.status, `division=${JSON.stringify(bad)}: ${r.text}`).to.equal(400);
      }
    });

    it("PUT /v1/orgs (admin) adds and renames; others get 403 and change nothing", async () => {
      const before = await orgsListing();
      const extra = {
        divisions: [{ code: "330103000000", name: "下城区" }, { code: "330102003004-G02", name: "东坡路社区第二网格" }],
        orgs: [{ id: "330103000000:civil-affairs", name: "下城区民政局" }, { id: "330102000000:health", name: "上城区卫生健康局（更名）" }],
      };
      for (const key of [regulator, auditor, submitterKey, portal]) {
        const r = await g.api("PUT", "/v1/orgs", { key, json: extra });
        expect(r.status, r.text).to.equal(403);
      }
      expect(await orgsListing()).to.deep.equal(before);
      const put = await g.api("PUT", "/v1/orgs", { key: admin(), json: extra });
      expect(put.status, put.text).to.equal(200);
      expect(put.body).to.deep.equal({ divisions: 2, orgs: 2 });
      const after = await orgsListing();
      expect(after.orgs.find((o) => o.id === "330102000000:health")!.name).to.equal("上城区卫生健康局（更名）");
      expect(after.orgs.find((o) => o.id === "330103000000:civil-affairs")).to.deep.include({ division: "330103000000", level: "county" });
      expect(after.divisions.find((d) => d.code === "330102003004-G02")).to.deep.include({ level: "grid" });
      expect(after.orgs).to.have.length(before.orgs.length + 1);
    });

    it("PUT /v1/orgs with invalid entries answers 400 naming each bad path, and stores none of the entries", async () => {
      const before = await orgsListing();
      const cases: [unknown, string[]][] = [
        [{ orgs: [{ id: "330102000000:ok-dept", name: "fine" }, { id: "no-division", name: "bad" }] }, ["orgs.1.id"]],
        [{ divisions: [{ code: "33010", name: "short" }], orgs: [{ id: "330102000000:x", name: "" }] }, ["divisions.0.code", "orgs.0.name"]],
        [{ orgs: [{ id: "330102000000:y", name: "y", parent: "330102000000" }] }, ["orgs.0"]],
        [{ members: [] }, [""]],
        [[{ id: "330102000000:z", name: "z" }], [""]],
      ];
      for (const [body, paths] of cases) {
        const r = await g.api("PUT", "/v1/orgs", { key: admin(), json: body });
        expect(r.status, `${JSON.stringify(body)}: ${r.text}`).to.equal(400);
        expect(r.body.error.code).to.equal("VALIDATION_FAILED");
        const reported = (r.body.error.details as { path: string }[]).map((d) => d.path);
        for (const p of paths) expect(reported, JSON.stringify(body)).to.include(p);
      }
      expect(await orgsListing()).to.deep.equal(before);
    });

    it("DELETE /v1/orgs/:id removes an organisation or a division (admin only); again → 404", async () => {
      const org = "330102003004-G01:grid-office";
      expect((await g.api("DELETE", `/v1/orgs/${encodeURIComponent(org)}`, { key: regulator })).status).to.equal(403);
      const del = await g.api("DELETE", `/v1/orgs/${encodeURIComponent(org)}`, { key: admin() });
      expect(del.status, del.text).to.equal(204);
      expect((await g.api("DELETE", `/v1/orgs/${encodeURIComponent(org)}`, { key: admin() })).status).to.equal(404);
      const division = "330102003004-G02";
      expect((await g.api("DELETE", `/v1/orgs/${division}`, { key: admin() })).status).to.equal(204);
      const listing = await orgsListing("?division=330102003004");
      expect(listing.orgs.map((o) => o.id)).to.not.include(org);
      expect(listing.divisions.map((d) => d.code)).to.not.include(division);
      expect((await g.api("DELETE", "/v1/orgs/330199000000:nobody", { key: admin() })).status).to.equal(404);
    });

    it("`ledger orgs import <file> --url --key` imports through the API (admin key; others refused; bad files named)", async () => {
      const file = path.join(dir, "more-orgs.csv");
      writeFileSync(file, "id,name\n330203000000,海曙区\n330203000000:civil-affairs,海曙区民政局\n330203002001:committee,\"青石社区居委会\"\n");
      const ok = await runCli(["orgs", "import", file, "--url", g.url, "--key", admin()]);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.include("imported 2 organisations and 1 divisions");
      const listing = await orgsListing("?division=330203000000");
      expect(listing.orgs.map((o) => [o.id, o.name])).to.deep.equal([
        ["330203000000:civil-affairs", "海曙区民政局"],
        ["330203002001:committee", "青石社区居委会"],
      ]);

      const refused = await runCli(["orgs", "import", file, "--url", g.url, "--key", regulator]);
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.match(/role|forbidden|403/i);

      const bad = path.join(dir, "bad-orgs.json");
      writeFileSync(bad, JSON.stringify({ orgs: [{ id: "330203000000:fine", name: "fine" }, { id: "oops", name: "bad" }] }));
      const invalid = await runCli(["orgs", "import", bad, "--url", g.url, "--key", admin()]);
      expect(invalid.code).to.equal(1);
      expect(invalid.stderr).to.include("orgs.1.id");
      expect((await orgsListing()).orgs.map((o) => o.id)).to.not.include("330203000000:fine");
    });

    it("`ledger orgs import --data-dir` on the stopped gateway, then ORGS_FILE as JSON at the next boot: both kept", async () => {
      await g.stop();
      const file = path.join(dir, "offline.json");
      writeFileSync(file, JSON.stringify({ divisions: [{ code: "310101000000", name: "黄浦区" }], orgs: [{ id: "310101000000:market-regulation", name: "黄浦区市场监督管理局" }] }));
      const offline = await runCli(["orgs", "import", file, "--data-dir", g.dataDir]);
      expect(offline.code, offline.stderr).to.equal(0);
      expect(offline.stdout).to.include("imported 1 organisations and 1 divisions");

      const json = path.join(dir, "world.json");
      writeFileSync(json, JSON.stringify(REGISTRY));
      g = await startOversightGateway({ dataDir: g.dataDir, env: { ORGS_FILE: json } });
      const listing = await orgsListing();
      const orgs = new Map(listing.orgs.map((o) => [o.id, o.name]));
      const divisions = new Map(listing.divisions.map((d) => [d.code, d.name]));
      for (const o of REGISTRY.orgs) expect(orgs.get(o.id), o.id).to.equal(o.name);
      for (const d of DIVISIONS) expect(divisions.get(d.code), d.code).to.equal(d.name);
      expect(orgs.get("310101000000:market-regulation")).to.equal("黄浦区市场监督管理局");
      // What the earlier boot, PUT and CLI import added and the JSON does not name is still there.
      expect(orgs.get("330102003000:civil-affairs")).to.equal(csv.orgs.get("330102003000:civil-affairs"));
      // The statistics survived the restart too.
      const stats = await g.api("GET", "/v1/stats?from=2026-11-20&to=2026-11-25", { key: g.keys.admin.key });
      expect(stats.body.total).to.equal(145);
    });

    it("an invalid ORGS_FILE stops the start with a message naming the bad entry", async () => {
      const bad = path.join(dir, "bad.csv");
      writeFileSync(bad, "id,name\n330102000000,上城区\nnot-a-code-at-all\n");
      const dataDir = path.join(dir, "bad-start");
      let failure: Error | undefined;
      await startGateway(loadConfig({ DATA_DIR: dataDir, PORT: "0", CHAIN_PORT: "0", LOG_LEVEL: "silent", ORGS_FILE: bad }), { onProgress: () => undefined }).then(
        async (started) => {
          await started.stop();
        },
        (error: Error) => (failure = error),
      );
      expect(failure, "the start fails").to.be.instanceOf(Error);
      expect(failure!.message).to.match(/line 3/);
      const badJson = path.join(dir, "bad.json");
      writeFileSync(badJson, JSON.stringify({ orgs: [{ id: "330102000000:ok", name: "ok" }, { id: "330102000000:Bad Name", name: "x" }] }));
      failure = undefined;
      await startGateway(loadConfig({ DATA_DIR: dataDir, PORT: "0", CHAIN_PORT: "0", LOG_LEVEL: "silent", ORGS_FILE: badJson }), { onProgress: () => undefined }).then(
        async (started) => {
          await started.stop();
        },
        (error: Error) => (failure = error),
      );
      expect(failure, "the start fails").to.be.instanceOf(Error);
      const details = JSON.stringify((failure as unknown as { details?: unknown }).details ?? failure!.message);
      expect(details).to.include("orgs.1.id");
    });
  });
});
