import { z } from "zod";
import { AppError, validationFailed } from "../errors";
import { canReadEnvelope } from "../auth/access";
import type { Principal } from "../auth/key-store";
import { DIVISION_PATTERN, ORG_PATTERN, divisionOfOrg } from "../domain/divisions";
import { EVENT_TYPES } from "../domain/event-schema";
import { subjectRef } from "../domain/envelope";
import type { EventLog, StoredRecord } from "../log/event-log";
import { subtreePrefix, UnionCursor, type EventIndex, type IndexCursor, type Posting } from "./event-index";

/**
 * Event queries: filters → posting lists → a merge join newest first → the
 * records, each checked once more against the caller's scope. Never a scan of
 * the log. A regulator's jurisdiction and a submitter's own key become posting
 * lists too, so scoping narrows the join instead of filtering after it.
 */

export const eventQuerySchema = z.strictObject({
  org: z.string().regex(ORG_PATTERN, "an organisation id such as 330102003004:civil-affairs").optional(),
  subtree: z.enum(["true", "false"]).optional(),
  division: z.string().regex(DIVISION_PATTERN, "a 12-digit division code (optionally -G<grid>)").optional(),
  dataset: z.string().min(1).max(128).optional(),
  type: z.enum(EVENT_TYPES).optional(),
  subject: z.string().min(1).max(256).optional(),
  recipient: z.string().regex(ORG_PATTERN, "an organisation id").optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  cursor: z.string().regex(/^\d{1,16}$/, "a leaf index from a previous page's `next`").optional(),
  limit: z.string().regex(/^\d{1,4}$/).optional(),
});
export type EventQuery = z.infer<typeof eventQuerySchema>;

export interface EventPage {
  events: StoredRecord[];
  /** Pass as `cursor` for the next page; null when there is none. */
  next: string | null;
  /** Postings examined; a time filter may examine many per result. */
  scanned: number;
}

export const MAX_LIMIT = 500;
/** Postings examined per request before answering with a partial page and a cursor. */
export const SCAN_BUDGET = 200_000;

export function parseEventQuery(raw: unknown): EventQuery {
  const parsed = eventQuerySchema
    .refine((q) => q.subtree === undefined || q.org !== undefined, { path: ["subtree"], message: "subtree goes with org" })
    .safeParse(raw);
  if (!parsed.success) {
    throw validationFailed("invalid query", parsed.error.issues);
  }
  return parsed.data;
}

export interface EventQueryContext {
  index: EventIndex;
  log: EventLog;
  /** Records below this are indexed. */
  indexedSize: number;
  subjectSecret: Uint8Array;
}

/**
 * The posting lists a query needs, as clauses that must all hold; a clause of
 * several postings holds when any of them does.
 */
export function postingsFor(query: EventQuery, principal: Principal, subjectSecret: Uint8Array): Posting[][] {
  const clauses: Posting[][] = [];
  const all = (p: Posting) => clauses.push([p]);
  if (query.org) all(query.subtree === "true" ? { dimension: "j", value: subtreePrefix(divisionOfOrg(query.org)) } : { dimension: "o", value: query.org });
  if (query.division) all({ dimension: "j", value: subtreePrefix(query.division) });
  if (query.dataset) all({ dimension: "d", value: query.dataset });
  if (query.type) all({ dimension: "t", value: query.type });
  if (query.recipient) all({ dimension: "r", value: query.recipient });
  if (query.subject) all({ dimension: "s", value: subjectRef(subjectSecret, query.subject) });
  // The caller's scope is a clause too, so it narrows the join instead of filtering after it.
  if (principal.role === "regulator") all({ dimension: "j", value: subtreePrefix(principal.jurisdiction!) });
  if (principal.role === "submitter") all({ dimension: "u", value: principal.id });
  if (principal.role === "auditor" && principal.datasets) clauses.push(principal.datasets.map((value) => ({ dimension: "d", value })));
  if (principal.role === "auditor" && principal.orgs) clauses.push(principal.orgs.map((value) => ({ dimension: "o", value })));
  if (clauses.length === 0) all({ dimension: "x", value: "" });
  // The leading list is walked, the others are sought: lead with the likely shortest.
  return clauses.sort((a, b) => rank(a) - rank(b));
}

const SELECTIVITY: Posting["dimension"][] = ["s", "r", "o", "u", "d", "j", "t", "x"];
const rank = (clause: Posting[]) => SELECTIVITY.indexOf(clause[0]!.dimension) + (clause.length > 1 ? 0.5 : 0);

export async function queryEvents(ctx: EventQueryContext, principal: Principal, query: EventQuery): Promise<EventPage> {
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (limit < 1 || limit > MAX_LIMIT) throw new AppError({ code: "VALIDATION_FAILED", message: `limit must be between 1 and ${MAX_LIMIT}` });
  const fromMs = query.from === undefined ? -Infinity : Date.parse(query.from);
  const toMs = query.to === undefined ? Infinity : Date.parse(query.to);
  if (fromMs > toMs) throw new AppError({ code: "VALIDATION_FAILED", message: "from is after to" });
  const before = Math.min(query.cursor === undefined ? Infinity : Number(query.cursor), ctx.indexedSize);

  const cursors = postingsFor(query, principal, ctx.subjectSecret).map((clause) =>
    clause.length === 1 ? ctx.index.openList(clause[0]!, before) : new UnionCursor(clause.map((p) => ctx.index.openList(p, before))),
  );
  const events: StoredRecord[] = [];
  let scanned = 0;
  let lastExamined = before;
  let exhausted = false;
  try {
    for await (const { index, time } of intersect(cursors)) {
      scanned += 1;
      lastExamined = index;
      if (time >= fromMs && time <= toMs) {
        const record = await ctx.log.get(index);
        if (record && canReadEnvelope(principal, record.envelope)) events.push(record);
        if (events.length === limit) break;
      }
      if (scanned >= SCAN_BUDGET) break;
    }
    exhausted = events.length < limit && scanned < SCAN_BUDGET;
  } finally {
    await Promise.all(cursors.map((c) => c.close()));
  }
  return { events, next: exhausted || lastExamined === 0 ? null : String(lastExamined), scanned };
}

/**
 * Leapfrog join of posting lists, newest first: each list seeks to the current
 * candidate; a candidate every list holds is yielded. With one list it is a
 * plain walk. Yields the first list's posting value (the event time).
 */
export async function* intersect(cursors: IndexCursor[]): AsyncGenerator<{ index: number; time: number }> {
  const [lead, ...others] = cursors;
  if (!lead) return;
  let head = await lead.next();
  while (head) {
    let candidate = head.index;
    let agreed = true;
    for (const cursor of others) {
      cursor.seek(candidate);
      const found = await cursor.next();
      if (!found) return;
      if (found.index !== candidate) {
        candidate = found.index;
        agreed = false;
        break;
      }
    }
    if (agreed) {
      yield head;
      head = await lead.next();
    } else {
      lead.seek(candidate);
      head = await lead.next();
    }
  }
}
