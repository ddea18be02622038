/**
 * What the gateway showed without need (issue 16, item 6):
 * - `/console/app.js.map` (1.2 MB, the whole browser source with absolute build
 *   paths) was served without a key. Source maps are now a development setting
 *   (CONSOLE_SOURCE_MAPS=true); without it there is no map, and the script names none.
 *   With it, the map names files relative to the project.
 * - `GET /v1/policy` showed regulators the policy file's path on the server; it is
 *   left out for all but admins (who configured it), also from the message of a
 *   refused reload, and from its `policy` alert for everyone.
 */
import { expect } from "chai";
import { copyFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { makeTempDir, removeDir, request, ROOT, startTestGateway, stopAndRemove, waitFor, type TestGateway } from "../support/gateway-harness";

describe("security: what the gateway shows without need", function () {
  this.timeout(120_000);
  let plain: TestGateway | undefined;
  let development: TestGateway | undefined;
  let policyDir: string;
  let policyFile: string;

  before(async () => {
    policyDir = makeTempDir("ledger-policy-dir-");
    policyFile = path.join(policyDir, "negative-list.json");
    copyFileSync(path.join(ROOT, "config", "policy.example.json"), policyFile);
    plain = await startTestGateway({ env: { POLICY_FILE: policyFile, POLICY_POLL_MS: "100" } });
    development = await startTestGateway({ env: { CONSOLE_SOURCE_MAPS: "true" } });
  });

  after(async () => {
    await stopAndRemove(plain);
    await stopAndRemove(development);
    removeDir(policyDir);
  });

  /** Absolute paths of this machine that must never be served. */
  const machinePaths = () => [ROOT, path.dirname(ROOT), plain!.dataDir, policyDir];

  it("serves no source map by default, and the console it serves names none and no path of the machine", async () => {
    expect((await request(plain!.url, "GET", "/console/app.js.map")).status).to.equal(404);
    for (const route of ["/console", "/console/app.js", "/console/console.css"]) {
      const served = await request(plain!.url, "GET", route);
      expect(served.status, route).to.equal(200);
      expect(served.text, route).to.not.include("sourceMappingURL");
      expect(served.headers.get("sourcemap") ?? served.headers.get("x-sourcemap"), route).to.equal(null);
      for (const p of machinePaths()) expect(served.text, `${route} names ${p}`).to.not.include(p);
    }
  });

  it("serves the source map when CONSOLE_SOURCE_MAPS=true, naming files relative to the project", async () => {
    const js = await request(development!.url, "GET", "/console/app.js");
    expect(js.text).to.match(/\/\/# sourceMappingURL=app\.js\.map\s*$/);
    const map = await request(development!.url, "GET", "/console/app.js.map");
    expect(map.status).to.equal(200);
    expect(map.body.sources).to.include("server/receipts/verify-receipt.ts");
    for (const source of map.body.sources as string[]) expect(source, "a source path").to.not.match(/^(\/|\.\.\/)|:\\/);
    for (const p of [...machinePaths(), development!.dataDir]) expect(map.text, `the map names ${p}`).to.not.include(p);
  });

  it("leaves the policy file's path out of GET /v1/policy for auditors and regulators, a refused reload's message included", async () => {
    for (const key of [plain!.keys.regulator.key, plain!.keys.auditor.key]) {
      const shown = await plain!.api("GET", "/v1/policy", { key });
      expect(shown.status).to.equal(200);
      expect(shown.body.status.rules).to.be.above(0);
      expect(shown.body.status).to.not.have.property("file");
      expect(shown.text).to.not.include(policyDir);
    }
    // The operator who configured it still sees it.
    expect((await plain!.api("GET", "/v1/policy", { key: plain!.keys.admin.key })).body.status.file).to.equal(policyFile);

    writeFileSync(policyFile, '{ "version": 1, "negativeList": [{ "id": "bad id!" }] }');
    const refused = await waitFor("the refused reload", async () => {
      const r = await plain!.api("GET", "/v1/policy", { key: plain!.keys.regulator.key });
      return r.body.status.error ? r : undefined;
    }, 15_000);
    expect(refused.body.status.error.message).to.match(/^policy file: /);
    expect(refused.text).to.not.include(policyDir);
    // Nor in the `policy` alert the refusal raised, which regulators read too.
    const alerts = await waitFor("the policy alert", async () => {
      const r = await plain!.api("GET", "/v1/alerts?kind=policy", { key: plain!.keys.regulator.key });
      return r.body.alerts?.length > 0 ? r : undefined;
    }, 15_000);
    expect(alerts.body.alerts[0].message).to.include("negativeList[0]");
    expect(alerts.text).to.not.include(policyDir);
  });
});
