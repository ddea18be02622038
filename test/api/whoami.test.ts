/**
 * GET /v1/whoami: the signed-in key's own record, so the console can show which
 * jurisdiction it covers. When any key asks, then it gets its id, name, role and
 * scope, never its hash; without a key, 401.
 */
import { expect } from "chai";
import { startTestGateway, stopAndRemove, type TestGateway } from "../support/gateway-harness";

describe("api: GET /v1/whoami", function () {
  let test: TestGateway;

  before(async function () {
    this.timeout(120_000);
    test = await startTestGateway({ env: { CHAIN_PORT: "0" } });
  });

  after(async function () {
    await stopAndRemove(test);
  });

  it("when a regulator asks, then it gets its own record with its jurisdiction, and no hash", async function () {
    const answer = await test.api("GET", "/v1/whoami", { key: test.keys.regulator.key });
    expect(answer.status, answer.text).to.equal(200);
    const { id, name, role, jurisdiction } = test.keys.regulator.record;
    expect(answer.body.key).to.include({ id, name, role, jurisdiction });
    expect(answer.body.key).to.not.have.property("hash");
  });

  it("when an admin or a submitter asks, then each gets its own role", async function () {
    for (const demo of [test.keys.admin, test.keys.submitter]) {
      const answer = await test.api("GET", "/v1/whoami", { key: demo.key });
      expect(answer.status, answer.text).to.equal(200);
      expect(answer.body.key).to.include({ id: demo.record.id, role: demo.record.role });
    }
  });

  it("when no key is given, then 401", async function () {
    const answer = await test.api("GET", "/v1/whoami");
    expect(answer.status).to.equal(401);
  });
});
