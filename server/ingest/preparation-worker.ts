/**
 * The worker thread of server/ingest/preparation-pool.ts: prepares batch bodies
 * (prepareBatchBody) with the subject secret it was started with.
 */
import { parentPort, workerData } from "node:worker_threads";
import { prepareBatchBody, transferListOf } from "./prepared-events";

const { subjectSecret } = workerData as { subjectSecret: Uint8Array };

parentPort!.on("message", ({ id, body }: { id: number; body: Uint8Array }) => {
  let events;
  try {
    events = prepareBatchBody(body, subjectSecret);
  } catch {
    events = undefined; // the ordinary path will meet the same problem and report it
  }
  parentPort!.postMessage({ id, events }, transferListOf(events));
});
parentPort!.postMessage({ ready: true });
