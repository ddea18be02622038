/**
 * The storage floor of ingest: the records the gateway writes for each event (its
 * canonical envelope under a 16-hex key, and its idempotency entry), prepared in
 * advance and written straight to a fresh LevelDB with plain synced batches, in one
 * process — no HTTP, no validation, no canonicalisation.
 */
import { randomBytes } from "node:crypto";
import { Level } from "level";
import { canonicalBytes, pseudonymise } from "../server/domain/envelope";
import { indexKey, SYNCED_BATCH } from "../server/store/database";
import { tempDir } from "./common";
import { BENCH_LOG_ID, type EventFactory } from "./events";

interface PreparedRecord {
  key: string;
  value: string;
  idemKey: string;
  idemValue: string;
}

export function prepareRecords(make: EventFactory, count: number, submitter = "0123456789ab"): PreparedRecord[] {
  const secret = randomBytes(32);
  const receivedAt = new Date().toISOString();
  const records: PreparedRecord[] = [];
  for (let index = 0; index < count; index++) {
    const event = pseudonymise(make(index), secret);
    const envelope = { v: 1, log: BENCH_LOG_ID, index, receivedAt, submitter, event };
    records.push({
      key: indexKey(index),
      value: canonicalBytes(envelope).toString("utf8"),
      idemKey: `${submitter}\u0000${event.requestId}`,
      idemValue: JSON.stringify({ index }),
    });
  }
  return records;
}

/**
 * Writes `records` in synced batches of `perBatch` events, one batch at a time, to a
 * fresh database: each batch holds the events' records (sublevel `log`) and idempotency
 * entries (`idem`), the floor issue #4 states ("the same records straight into LevelDB in
 * one batch"). The gateway keeps its records in a database of their own and writes their
 * idempotency entries after them; the floor stays the simplest form of the same writes.
 * Returns the elapsed milliseconds and the CPU time this process used meanwhile (LevelDB's
 * threads included).
 */
export async function writeDirect(records: readonly PreparedRecord[], perBatch: number): Promise<{ ms: number; cpuMs: number }> {
  const { dir, remove } = tempDir("direct-level");
  const db = new Level<string, string>(dir, { keyEncoding: "utf8", valueEncoding: "utf8", writeBufferSize: 32 * 1024 * 1024 });
  await db.open();
  try {
    const log = db.sublevel<string, string>("log", { valueEncoding: "utf8" });
    const idem = db.sublevel<string, string>("idem", { valueEncoding: "utf8" });
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let from = 0; from < records.length; from += perBatch) {
      const ops: { type: "put"; sublevel: typeof log; key: string; value: string }[] = [];
      const to = Math.min(records.length, from + perBatch);
      for (let i = from; i < to; i++) ops.push({ type: "put", sublevel: log, key: records[i]!.key, value: records[i]!.value });
      for (let i = from; i < to; i++) ops.push({ type: "put", sublevel: idem, key: records[i]!.idemKey, value: records[i]!.idemValue });
      // The same synced-batch options as the gateway's log (see SYNCED_BATCH).
      await db.batch(ops as never, SYNCED_BATCH as never);
    }
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return { ms, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    await db.close();
    await remove();
  }
}
