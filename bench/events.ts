/**
 * Synthetic provenance events for the benchmarks: valid under the gateway's schema, for
 * the demo submitter's jurisdiction (330102000000), deterministic for a given seed, and
 * spread over organisations, datasets, types, subjects and a year of occurrence times, so
 * that queries meet realistic posting lists.
 */
import { canonicalBytes, pseudonymise } from "../server/domain/envelope";
import type { ProvenanceEvent } from "../server/domain/event-schema";
import { seededRandom } from "../test/support/seeded-random";

/** Seeded PRNG for the benchmarks' synthetic data (mulberry32). */
export const prng = seededRandom;

/** The jurisdiction of the gateway's demo submitter key. */
export const COUNTY = "330102000000";
export const TOWNSHIPS = 20;
export const VILLAGES_PER_TOWNSHIP = 25;
export const DATASETS = 200;
export const SUBJECTS = 100_000;
const DEPARTMENTS = ["civil-affairs", "health", "public-security", "social-security", "education", "housing", "grid-office"];
const TYPES = ["collect", "access", "share", "use", "modify", "export", "delete"] as const;
const FIELDS = ["name", "id-number", "address", "phone", "household", "income", "medical-history", "employment"];
const YEAR_MS = 365 * 24 * 3600 * 1000;
const START_MS = Date.parse("2025-01-01T00:00:00Z");


const pad3 = (n: number) => String(n).padStart(3, "0");

/** Division of township t (1-based), village v (0 = the township itself). */
export function divisionOf(township: number, village: number): string {
  return `330102${pad3(township)}${pad3(village)}`;
}

export function orgOf(township: number, village: number, department: string): string {
  return `${divisionOf(township, village)}:${department}`;
}

export function datasetOf(n: number): string {
  return `catalog/ds-${String(n).padStart(4, "0")}`;
}

export function subjectOf(n: number): string {
  return `citizen-${String(n).padStart(6, "0")}`;
}

export interface EventFactory {
  /** Event number `i` of this factory (its requestId is unique to factory and i). */
  (i: number): ProvenanceEvent;
}

/**
 * A factory of events whose requestIds start with `tag` (so two runs against one
 * gateway never collide). The event depends only on (seed, i).
 */
export function eventFactory(tag: string, seed = 1): EventFactory {
  return (i) => {
    const random = prng(seed * 1_000_003 + i);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const township = 1 + Math.floor(random() * TOWNSHIPS);
    const village = Math.floor(random() * (VILLAGES_PER_TOWNSHIP + 1));
    const type = pick(TYPES);
    const fields = FIELDS.filter(() => random() < 0.35);
    const event: ProvenanceEvent = {
      type,
      actor: { org: orgOf(township, village, pick(DEPARTMENTS)), system: `sys-${pick(DEPARTMENTS)}-${1 + Math.floor(random() * 9)}`, operator: `op-${Math.floor(random() * 5000)}` },
      dataset: datasetOf(Math.floor(random() ** 2 * DATASETS)),
      purpose: "eligibility check for the minimum living allowance (最低生活保障资格核查)",
      legalBasis: "Regulations on Social Assistance, art. 11",
      fields: fields.length > 0 ? fields : ["name"],
      occurredAt: new Date(START_MS + Math.floor(random() * YEAR_MS)).toISOString(),
      requestId: `${tag}-${i}`,
    };
    if (random() < 0.7) event.subject = subjectOf(Math.floor(random() * SUBJECTS));
    if (type === "share") event.recipient = { org: orgOf(1 + Math.floor(random() * TOWNSHIPS), 0, pick(DEPARTMENTS)) };
    if (random() < 0.3) event.attributes = { channel: "api", records: 1 + Math.floor(random() * 50) };
    return event;
  };
}

/** A log id for envelopes built outside a gateway. */
export const BENCH_LOG_ID = "0x" + "b3".repeat(32);

/**
 * `count` leaves shaped like the gateway's: RFC 8785 canonical envelopes of synthetic
 * events (about 640 bytes each). 1,024 envelopes are canonicalised for real; leaf i is
 * envelope i mod 1,024 with its index set to i, so building a million takes a second
 * instead of the canonicaliser's half a minute, and every leaf is distinct.
 */
export function envelopeLeaves(count: number, subjectSecret: Uint8Array = new Uint8Array(32)): Buffer[] {
  const make = eventFactory("leaf");
  const templates: [string, string][] = [];
  for (let j = 0; j < Math.min(count, 1024); j++) {
    const envelope = {
      v: 1 as const,
      log: BENCH_LOG_ID,
      index: j,
      receivedAt: new Date(START_MS + j * 1000).toISOString(),
      submitter: "0123456789ab",
      event: pseudonymise(make(j), subjectSecret),
    };
    const text = canonicalBytes(envelope).toString("utf8");
    const marker = `"index":${j},`;
    const at = text.indexOf(marker);
    templates.push([text.slice(0, at + 8), text.slice(at + marker.length - 1)]);
  }
  // One slab for all of them: a million small allocations would cost more than the hashing.
  const parts = templates.map(([head, tail]) => [Buffer.from(head, "utf8"), Buffer.from(tail, "utf8")] as const);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const [head, tail] = parts[i % parts.length]!;
    total += head.length + String(i).length + tail.length;
  }
  const slab = Buffer.allocUnsafe(total);
  const leaves: Buffer[] = new Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const [head, tail] = parts[i % parts.length]!;
    const start = at;
    at += head.copy(slab, at);
    at += slab.write(String(i), at, "latin1");
    at += tail.copy(slab, at);
    leaves[i] = slab.subarray(start, at);
  }
  return leaves;
}
