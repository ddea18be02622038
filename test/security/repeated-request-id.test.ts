/**
 * A batch naming two different events by one requestId (issue 16, item 6): it was
 * answered 409 CONFLICT with `index 16`, an index nothing had been stored at. Now
 * 400 naming both positions, on the main thread and on the batch worker, and
 * nothing stored — none of the batch's requestIds is claimed.
 */
import { expect } from "chai";
import { makeEvent, makeEvents, startOnBothPreparationPaths, stopAndRemove, type TestGateway } from "../support/gateway-harness";

describe("security: a batch repeating a requestId for different events", function () {
  this.timeout(120_000);
  let inline: TestGateway | undefined;
  let onWorker: TestGateway | undefined;

  before(async () => {
    ({ inline, onWorker } = await startOnBothPreparationPaths());
  });

  after(async () => {
    await stopAndRemove(inline);
    await stopAndRemove(onWorker);
  });

  it("is refused with 400 naming both positions, storing nothing, on the main thread and on the worker", async () => {
    for (const [what, g] of [["main thread", inline!], ["worker", onWorker!]] as const) {
      const events = makeEvents(10);
      events[3] = makeEvent({ requestId: "dup-1" });
      events[7] = makeEvent({ requestId: "dup-1", purpose: "another purpose" });
      const size = g.gateway.log.size;
      const answer = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events } });
      expect(answer.status, `${what}: ${answer.text}`).to.equal(400);
      expect(answer.body.error.message, what).to.match(/^requestId dup-1 appears at events\[3\] and events\[7\]/);
      expect(answer.body.error.details.map((d: { path: string }) => d.path), what).to.deep.equal(["events[3].requestId", "events[7].requestId"]);
      expect(g.gateway.log.size, `${what}: nothing stored`).to.equal(size);
      // None of the batch's requestIds was claimed: each of the two events can be stored now.
      const retry = await g.api("POST", "/v1/events", { key: g.keys.submitter.key, json: { events: events.filter((_, i) => i !== 7) } });
      expect(retry.status, what).to.equal(201);
      expect(retry.body.events.every((e: { created: boolean }) => e.created), what).to.equal(true);
    }
    expect(onWorker!.gateway.preparation.preparedByWorker, "the worker prepared the valid batch").to.be.at.least(1);
  });
});
