/**
 * Acknowledgement is per jurisdiction (issue 16, item 6): a regulator acknowledging
 * an alert about a share from its division to another does not take it off the
 * other division's regulator's list. Against a real gateway over real HTTP:
 *
 * - the acknowledging regulator's division (any of its keys) sees it acknowledged,
 *   the other's still awaiting attention, until that one acknowledges for itself;
 * - an admin's acknowledgement is the gateway-wide view's, not the regulators';
 * - records stored before acknowledgements had scopes (one acknowledgedAt/By) read
 *   as the acknowledgement of the key that made it: its jurisdiction if a regulator's.
 */
import { expect } from "chai";
import { rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { alertKey } from "../../server/alerts/keys";
import { makeEvent, startTestGateway, stopAndRemove, waitFor, type TestGateway } from "../support/gateway-harness";

const SHANGCHENG = "330102000000";
const XIHU = "330106000000";
const POLICY = {
  version: 1,
  negativeList: [{ id: "NL-EVERY-SHARE", description: "every share", severity: "warning", eventTypes: ["share"], datasets: ["*"] }],
};

describe("security: alert acknowledgement is per jurisdiction", function () {
  this.timeout(120_000);
  let g: TestGateway | undefined;
  const keys: Record<"from" | "fromToo" | "to", string> = { from: "", fromToo: "", to: "" };
  const ids: Record<"from" | "to", string> = { from: "", to: "" };
  let shares: string[] = [];
  const policyFile = path.join(os.tmpdir(), `ack-scope-policy-${process.pid}.json`);

  const regulator = async (jurisdiction: string, name: string) => {
    const created = await g!.api("POST", "/v1/keys", { key: g!.keys.admin.key, json: { name, role: "regulator", jurisdiction } });
    expect(created.status, created.text).to.equal(201);
    return { key: created.body.key as string, id: created.body.record.id as string };
  };
  const open = async (key: string) => ((await g!.api("GET", "/v1/alerts?acknowledged=false&kind=negative-list", { key })).body.alerts as any[]).map((a) => a.id as string);
  const acked = async (key: string) => ((await g!.api("GET", "/v1/alerts?acknowledged=true&kind=negative-list", { key })).body.alerts as any[]).map((a) => a.id as string);

  before(async () => {
    writeFileSync(policyFile, JSON.stringify(POLICY));
    g = await startTestGateway({ env: { POLICY_FILE: policyFile } });
    const from = await regulator(SHANGCHENG, "Shangcheng regulator");
    const fromToo = await regulator(SHANGCHENG, "Shangcheng regulator, second key");
    const to = await regulator(XIHU, "Xihu regulator");
    Object.assign(keys, { from: from.key, fromToo: fromToo.key, to: to.key });
    Object.assign(ids, { from: from.id, to: to.id });
    // Four shares from Shangcheng to Xihu: each raises one alert both regulators see.
    const events = Array.from({ length: 4 }, () => makeEvent({ type: "share", recipient: { org: "330106001000:health" } }));
    const stored = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events } });
    expect(stored.status, stored.text).to.equal(201);
    await g.gateway.indexer.caughtUp(g.gateway.log.size);
    shares = await waitFor("the four alerts", async () => {
      const list = await open(g!.keys.admin.key);
      return list.length === 4 ? list.reverse() : undefined;
    });
    for (const key of [keys.from, keys.to]) expect(await open(key)).to.have.members(shares);
  });
  after(async () => {
    await stopAndRemove(g);
    rmSync(policyFile, { force: true });
  });

  it("when the sending division's regulator acknowledges, then the receiving division's still sees it awaiting attention", async () => {
    const [alert] = shares;
    const ack = await g!.api("POST", `/v1/alerts/${alert}/ack`, { key: keys.from });
    expect(ack.status, ack.text).to.equal(200);
    expect(ack.body).to.include({ id: alert, acknowledgedBy: ids.from });
    expect(ack.body).to.not.have.property("acknowledgements");

    expect(await open(keys.to), "the other division's list").to.include(alert);
    expect(await acked(keys.to)).to.not.include(alert);
    expect(await acked(keys.from)).to.include(alert);
    expect(await acked(keys.fromToo), "another key of the same division").to.include(alert);
    expect(await acked(g!.keys.admin.key), "the gateway-wide view").to.include(alert);
    // The event's flags, as each sees them.
    const flag = async (key: string) => ((await g!.api("GET", `/v1/events/${ack.body.eventIndex}`, { key })).body.flags as any[]).find((f) => f.id === alert);
    expect(await flag(keys.to)).to.not.have.property("acknowledgedAt");
    expect((await flag(keys.from)).acknowledgedBy).to.equal(ids.from);

    const own = await g!.api("POST", `/v1/alerts/${alert}/ack`, { key: keys.to });
    expect(own.status, own.text).to.equal(200);
    expect(own.body.acknowledgedBy, "its own acknowledgement").to.equal(ids.to);
    expect(await open(keys.to)).to.not.include(alert);
    expect((await g!.api("POST", `/v1/alerts/${alert}/ack`, { key: keys.fromToo })).body.acknowledgedBy, "the division's first stays").to.equal(ids.from);
  });

  it("when an admin acknowledges, then the regulators still see it awaiting attention", async () => {
    const alert = shares[1]!;
    const ack = await g!.api("POST", `/v1/alerts/${alert}/ack`, { key: g!.keys.admin.key });
    expect(ack.status, ack.text).to.equal(200);
    expect(await acked(g!.keys.admin.key)).to.include(alert);
    expect(await acked(g!.keys.auditor.key), "auditors share the gateway-wide view").to.include(alert);
    for (const key of [keys.from, keys.to]) expect(await open(key)).to.include(alert);
  });

  it("when a record holds a single acknowledgement of before, then it counts for the jurisdiction of the key that made it", async () => {
    const [byRegulator, byAdmin] = [shares[2]!, shares[3]!];
    const store = g!.gateway.alerts.store;
    const at = "2026-12-01T08:00:00.000Z";
    for (const [id, by] of [[byRegulator, ids.from], [byAdmin, g!.keys.admin.record.id]] as const) {
      const stored = JSON.parse(await store.sublevel.get(alertKey(id)));
      expect(stored).to.not.have.property("acknowledgedAt");
      await store.sublevel.put(alertKey(id), JSON.stringify({ ...stored, acknowledgedAt: at, acknowledgedBy: by }));
    }
    expect(await acked(keys.from)).to.include(byRegulator);
    expect(await acked(keys.fromToo)).to.include(byRegulator);
    expect(await open(keys.to)).to.include(byRegulator);
    for (const key of [keys.from, keys.to]) expect(await open(key), "an admin's old acknowledgement").to.include(byAdmin);
    const wide = (await g!.api("GET", "/v1/alerts?acknowledged=true&kind=negative-list", { key: g!.keys.admin.key })).body.alerts as any[];
    expect(wide.find((a) => a.id === byRegulator)).to.include({ acknowledgedAt: at, acknowledgedBy: ids.from });
    expect(wide.find((a) => a.id === byAdmin)).to.include({ acknowledgedAt: at, acknowledgedBy: g!.keys.admin.record.id });
    // Acknowledging on top of an old record keeps it.
    const ack = await g!.api("POST", `/v1/alerts/${byRegulator}/ack`, { key: keys.to });
    expect(ack.body.acknowledgedBy).to.equal(ids.to);
    expect((await g!.api("POST", `/v1/alerts/${byRegulator}/ack`, { key: keys.from })).body).to.include({ acknowledgedAt: at, acknowledgedBy: ids.from });
  });
});
