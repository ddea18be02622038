/**
 * The policy file: loaded at boot (refused when invalid), reloaded when it
 * changes, and a bad change kept out while the previous policy stays in force.
 */
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { EMPTY_POLICY, PolicyError } from "../../server/alerts/policy";
import { PolicySource } from "../../server/alerts/policy-source";
import { eventually, removeDir, silentLogger, tempDir } from "./helpers";

const rule = (id: string, severity = "warning") => ({ id, description: `rule ${id}`, severity, purposes: { forbidden: ["*marketing*"] } });
const doc = (...ids: string[]) => JSON.stringify({ version: 1, negativeList: ids.map((id) => rule(id)) }, null, 2);

describe("policy source", () => {
  let dir: string;
  let file: string;
  let sources: PolicySource[];

  beforeEach(() => {
    dir = tempDir("policy-");
    file = path.join(dir, "policy.json");
    sources = [];
  });
  afterEach(() => {
    for (const s of sources) s.stop();
    removeDir(dir);
  });

  async function open(onInvalid?: (e: PolicyError) => void): Promise<PolicySource> {
    const source = await PolicySource.open({ file, logger: silentLogger, pollMs: 30, debounceMs: 20, onInvalid });
    sources.push(source);
    return source;
  }

  const ruleIds = (source: PolicySource) => source.current().negativeList.map((r) => r.id);

  it("is the empty policy without a file", async () => {
    const source = await PolicySource.open({ logger: silentLogger });
    expect(source.current()).to.deep.equal(EMPTY_POLICY);
    expect(source.status()).to.deep.equal({ file: undefined, loadedAt: undefined, sha256: undefined, rules: 0, webhooks: 0 });
    expect(await source.reload()).to.equal(false);
    source.stop();
  });

  it("refuses to start with an invalid file, naming the bad field", async () => {
    fs.writeFileSync(file, JSON.stringify({ version: 1, negativeList: [rule("A", "severe")] }));
    let error: unknown;
    await open().catch((e) => (error = e));
    expect(error).to.be.instanceOf(PolicyError);
    expect((error as PolicyError).issues.map((i) => i.path)).to.deep.equal(["negativeList[0].severity"]);
    expect((error as PolicyError).message).to.include(file).and.include("negativeList[0].severity");
  });

  it("refuses to start with a missing file", async () => {
    let error: unknown;
    await open().catch((e) => (error = e));
    expect(error).to.be.instanceOf(PolicyError);
    expect((error as PolicyError).message).to.include("ENOENT");
  });

  it("applies a valid change to the file", async () => {
    fs.writeFileSync(file, doc("A"));
    const source = await open();
    const before = source.status();
    expect(ruleIds(source)).to.deep.equal(["A"]);
    let changed = 0;
    source.on("changed", () => (changed += 1));

    fs.writeFileSync(file, doc("A", "B"));
    await eventually(() => ruleIds(source).length === 2, "the reload");
    expect(ruleIds(source)).to.deep.equal(["A", "B"]);
    expect(changed).to.equal(1);
    expect(source.status().sha256).not.to.equal(before.sha256);
    expect(source.status().error).to.equal(undefined);
  });

  it("follows a file replaced by rename, as editors and config management do", async () => {
    fs.writeFileSync(file, doc("A"));
    const source = await open();
    const next = path.join(dir, "policy.json.tmp");
    fs.writeFileSync(next, doc("C"));
    fs.renameSync(next, file);
    await eventually(() => ruleIds(source)[0] === "C", "the reload after rename");
  });

  it("keeps the previous policy when the new file is invalid, reports it once, and recovers", async () => {
    fs.writeFileSync(file, doc("A"));
    const reported: PolicyError[] = [];
    const source = await open((e) => reported.push(e));
    const applied = source.current();

    fs.writeFileSync(file, JSON.stringify({ version: 1, negativeList: [rule("A"), { ...rule("B"), recipient: { levels: ["street"] } }] }));
    await eventually(() => source.status().error, "the refused reload");
    expect(source.current()).to.equal(applied);
    expect(reported).to.have.length(1);
    expect(reported[0]!.issues.map((i) => i.path)).to.deep.equal(["negativeList[1].recipient.levels[0]"]);
    expect(source.status().error!.message).to.include("negativeList[1].recipient.levels[0]");

    // The same bad content again (touched) is not reported twice; a reload finds nothing new.
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await source.reload()).to.equal(false);
    expect(reported).to.have.length(1);

    fs.writeFileSync(file, "{ not json");
    await eventually(() => reported.length === 2, "the second refused reload");
    expect(reported[1]!.message).to.include("not JSON");

    fs.writeFileSync(file, doc("D"));
    await eventually(() => ruleIds(source)[0] === "D", "the recovery");
    expect(source.status().error).to.equal(undefined);
  });

  it("keeps the previous policy when the file disappears", async () => {
    fs.writeFileSync(file, doc("A"));
    const reported: PolicyError[] = [];
    const source = await open((e) => reported.push(e));
    fs.unlinkSync(file);
    await eventually(() => reported.length === 1, "the missing file to be reported");
    expect(reported[0]!.message).to.include("ENOENT");
    expect(ruleIds(source)).to.deep.equal(["A"]);
    fs.writeFileSync(file, doc("E"));
    await eventually(() => ruleIds(source)[0] === "E", "the file to come back");
  });
});
