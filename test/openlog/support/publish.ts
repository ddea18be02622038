import { expect } from "chai";
import { makeEvents, waitFor, waitForReceipt, type TestGateway } from "../../support/gateway-harness";

/** Submits `count` events and waits until a signed checkpoint covers them; returns its tree size. */
export async function submitAndPublish(g: TestGateway, count: number): Promise<number> {
  const response = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: makeEvents(count) } });
  expect(response.status, response.text).to.equal(201);
  const last = response.body.events[response.body.events.length - 1].index as number;
  await waitForReceipt(g.url, g.keys.admin.key, last);
  return waitFor("the checkpoint to be published", () => {
    const published = g.gateway.openLog.latest();
    return published && published.treeSize > last ? published.treeSize : undefined;
  });
}
