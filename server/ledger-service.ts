import type { Anchorer, Checkpoint } from "./anchor/anchorer";
import { canReadEnvelope, canSubmitFor, requireRole } from "./auth/access";
import type { Principal } from "./auth/key-store";
import { canonicalJson, pseudonymise } from "./domain/envelope";
import { eventSchema, type ProvenanceEvent } from "./domain/event-schema";
import { repeatedRequestIds, type RepeatedRequestId } from "./domain/repeated-request-ids";
import { z } from "zod";
import { AppError, validationFailed } from "./errors";
import { toHex } from "./hex";
import type { AppendedEvent, EventLog, StoredRecord } from "./log/event-log";
import type { IngestPriority } from "./log/ingest-priority";
import type { PreparationPool } from "./ingest/preparation-pool";
import { hashLeaf, type MerkleTreeStore } from "./merkle";
import type { Receipt } from "./receipts/receipt";
import { verifyReceipt, type LedgerReader, type VerifiedReceipt } from "./receipts/verify-receipt";
import type { LogList, TrustAnchor } from "./receipts/trust-anchor";
import type { EventIndex } from "./query/event-index";
import type { EventIndexer } from "./query/event-indexer";
import { parseEventQuery, queryEvents, type EventPage } from "./query/event-query";
import { computeStatistics, type Statistics } from "./query/statistics";
import type { OrgRegistry } from "./orgs/org-registry";

/**
 * The gateway's use cases, between the HTTP routes (parsing, answering) and the
 * modules that own storage. Authorisation that depends on the data is decided
 * here, through the rules in auth/access.ts.
 */

export interface ChainIdentity {
  chainId: number;
  contract: string;
  logId: string;
  /** An RPC endpoint verifiers may use to check roots on chain (PUBLIC_RPC_URL, or the one the gateway uses). */
  rpcUrl: string;
}

export interface LedgerServiceParameters {
  log: EventLog;
  tree: MerkleTreeStore;
  anchorer: Anchorer;
  subjectSecret: Uint8Array;
  chain: ChainIdentity;
  /** This log's own entry, as GET /v1/log-list serves it. */
  logList: LogList;
  /** The logs POST /v1/verify accepts: this one and those of TRUSTED_LOGS. */
  trust: TrustAnchor;
  reader: LedgerReader;
  index: EventIndex;
  indexer: EventIndexer;
  orgs: OrgRegistry;
  /** Most events that may wait to be indexed and folded before ingest answers 503. */
  maxBacklog: number;
  /** Tells derived work when submissions are under way (server/log/ingest-priority.ts). */
  priority?: IngestPriority;
  /** Prepares large batches, on a worker thread when it has room (server/ingest/preparation-pool.ts). */
  preparation?: PreparationPool;
  /** The open log's state for /v1/status: origin, note verifier key, published size. */
  openLogStatus?: () => { origin: string; noteKey: string; publishedSize: number; tiledSize: number; state: string };
}

/** One line of a citizen's access report. */
export interface SubjectAccess {
  index: number;
  type: string;
  occurredAt: string;
  actor: { org: string; orgName?: string; system: string };
  recipient?: { org: string; orgName?: string };
  dataset: string;
  fields: string[];
  purpose: string;
  legalBasis: string;
  receipt: Receipt | { status: "pending" };
}

export interface FieldProblem {
  path: string;
  message: string;
}

export type ReceiptAnswer = { status: "anchored"; receipt: Receipt } | { status: "pending"; index: number; treeSize: number; anchoredSize: number };

export class LedgerService {
  constructor(private readonly p: LedgerServiceParameters) {}

  get chain(): ChainIdentity {
    return this.p.chain;
  }

  /** Public: what a verifier saves as its trust anchor (convenient, not a substitute for one given out of band). */
  get logList(): LogList {
    return this.p.logList;
  }

  /**
   * Validates every event first and stores none unless all are valid and the
   * submitter may record them; resolves once they are durably written.
   */
  submit(principal: Principal, events: unknown[], pathPrefix: (i: number) => string): Promise<AppendedEvent[]> {
    return this.asSubmission(() => this.validateAndAppend(principal, events, pathPrefix));
  }

  /** Whether a batch body of this many bytes may be given to submitBatchBody (it is large enough to prepare apart). */
  takesBatchBody(byteLength: number): boolean {
    return this.p.preparation?.wouldTake(byteLength) ?? false;
  }

  /**
   * The same as `submit` for the body `{ "events": [...] }` as UTF-8 bytes, prepared by
   * the preparation pool (on its worker thread when it has room) — or undefined, having stored nothing, when the body is not a batch of
   * valid events this key may submit: the caller then parses it and calls `submit`,
   * which reports the problem. Every outcome it does decide (stored, or refused for the
   * key's role or the backlog) is the one `submit` would reach.
   */
  submitBatchBody(principal: Principal, body: Uint8Array): Promise<AppendedEvent[] | undefined> {
    return this.asSubmission(async () => {
      // Not the key's role: `submit` refuses it, after the checks of the body that come first.
      if (principal.role !== "submitter" || !this.p.preparation) return undefined;
      const prepared = await this.p.preparation.prepare(body);
      if (!prepared) return undefined;
      this.refuseWhenBacklogged();
      // A foreign jurisdiction: `submit` names the first offending event.
      if (!prepared.every((event) => canSubmitFor(principal, event.org))) return undefined;
      return this.p.log.append(prepared.map(({ requestId, eventUtf8 }) => ({ submitter: principal.id, requestId, eventUtf8 })));
    });
  }

  private asSubmission<T>(submit: () => Promise<T>): Promise<T> {
    return this.p.priority ? this.p.priority.submission(submit) : submit();
  }

  /** Backpressure: acknowledging faster than the indexer and the tree keep up would grow the backlog (and memory, and the time to a receipt) without bound. */
  private refuseWhenBacklogged(): void {
    const backlog = this.p.log.size - Math.min(this.p.indexer.size, this.p.tree.size);
    if (backlog > this.p.maxBacklog) {
      throw new AppError({ code: "OVERLOADED", message: `${backlog} events are still being indexed and folded into the tree; retry shortly` });
    }
  }

  private async validateAndAppend(principal: Principal, events: unknown[], pathPrefix: (i: number) => string): Promise<AppendedEvent[]> {
    requireRole(principal, "submitter");
    this.refuseWhenBacklogged();
    const problems: FieldProblem[] = [];
    const valid: ProvenanceEvent[] = [];
    events.forEach((raw, i) => {
      const parsed = eventSchema.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          if (issue.code === "unrecognized_keys") {
            // Name each unknown field in the path, as for every other problem.
            for (const key of issue.keys) problems.push({ path: joinPath(pathPrefix(i), [...issue.path, key]), message: "unknown field" });
          } else {
            problems.push({ path: joinPath(pathPrefix(i), issue.path), message: issue.message });
          }
        }
      } else {
        valid.push(parsed.data);
      }
    });
    if (problems.length > 0) {
      throw new AppError({
        code: "VALIDATION_FAILED",
        message: `${problems.length} invalid field${problems.length === 1 ? "" : "s"}; nothing was stored`,
        details: problems.slice(0, 100),
      });
    }
    this.refuseRepeatedRequestIds(valid, pathPrefix);
    valid.forEach((event, i) => {
      if (!canSubmitFor(principal, event.actor.org)) {
        throw new AppError({
          code: "FORBIDDEN",
          message: `${joinPath(pathPrefix(i), ["actor", "org"])}: ${event.actor.org} is outside this key's jurisdiction ${principal.jurisdiction}; nothing was stored`,
        });
      }
    });
    return this.p.log.append(
      valid.map((event) => ({ submitter: principal.id, event: pseudonymise(event, this.p.subjectSecret) })),
    );
  }

  /** A batch naming two different events by one requestId: 400 naming both positions (not the log's 409, which would name an index never stored). */
  private refuseRepeatedRequestIds(events: ProvenanceEvent[], pathPrefix: (i: number) => string): void {
    if (events.length < 2) return; // a single event: nothing to compare, nothing to allocate
    const repeated = repeatedRequestIds(events.map((e) => e.requestId), (first, again) => canonicalJson(events[first]) === canonicalJson(events[again]));
    if (repeated.length === 0) return;
    const [{ requestId, first, again }] = repeated as [RepeatedRequestId];
    throw new AppError({
      code: "VALIDATION_FAILED",
      message: `requestId ${requestId} appears at ${pathPrefix(first)} and ${pathPrefix(again)} for different events${repeated.length > 1 ? ` (and ${repeated.length - 1} more repeat${repeated.length > 2 ? "s" : ""})` : ""}; nothing was stored`,
      details: repeated.slice(0, 50).flatMap((r) => [
        { path: joinPath(pathPrefix(r.first), ["requestId"]), message: `requestId ${r.requestId} is used again at ${pathPrefix(r.again)} for a different event` },
        { path: joinPath(pathPrefix(r.again), ["requestId"]), message: `requestId ${r.requestId} is already used at ${pathPrefix(r.first)} for a different event` },
      ]),
    });
  }

  async readEvent(principal: Principal, index: number): Promise<StoredRecord> {
    requireRole(principal, "admin", "auditor", "regulator", "submitter");
    const record = await this.p.log.get(index);
    // Same answer for "absent" and "not yours", so scopes do not leak what exists elsewhere.
    if (!record || !canReadEnvelope(principal, record.envelope)) {
      throw new AppError({ code: "NOT_FOUND", message: `no event ${index} visible to this key` });
    }
    return record;
  }

  async receipt(principal: Principal, index: number): Promise<ReceiptAnswer> {
    return this.receiptOf(await this.readEvent(principal, index));
  }

  private async receiptOf(record: StoredRecord): Promise<ReceiptAnswer> {
    const index = record.index;
    const checkpoint = await this.p.anchorer.checkpoints.covering(index);
    // A lost checkpoint is being anchored again: its receipt would not verify until then.
    if (!checkpoint || checkpoint.lost) {
      return { status: "pending", index, treeSize: this.p.tree.size, anchoredSize: this.p.anchorer.status().anchoredSize };
    }
    return { status: "anchored", receipt: await this.buildReceipt(record, checkpoint) };
  }

  private async buildReceipt(record: StoredRecord, checkpoint: Checkpoint): Promise<Receipt> {
    const proof = await this.p.tree.inclusionProof(record.index, checkpoint.treeSize);
    const { chainId, contract, logId } = this.p.chain;
    return {
      version: 1,
      log: { id: logId as Receipt["log"]["id"], chainId, contract: contract as Receipt["log"]["contract"] },
      entry: { index: record.index, envelope: record.envelope, leafHash: toHex(hashLeaf(record.bytes)) },
      checkpoint: {
        treeSize: checkpoint.treeSize,
        rootHash: checkpoint.rootHash as Receipt["checkpoint"]["rootHash"],
        txHash: checkpoint.txHash as Receipt["checkpoint"]["txHash"],
        blockNumber: checkpoint.blockNumber,
      },
      inclusionProof: proof.map(toHex),
    };
  }

  verify(principal: Principal, receipt: unknown): Promise<VerifiedReceipt> {
    requireRole(principal, "admin", "auditor", "regulator", "submitter", "citizen-portal");
    return verifyReceipt(receipt, this.p.trust, this.p.reader);
  }

  checkpoints(principal: Principal, query: { beforeSize?: number; limit: number }): Promise<Checkpoint[]> {
    requireRole(principal, "admin", "auditor", "regulator");
    return this.p.anchorer.checkpoints.list(query);
  }

  latestCheckpoint(principal: Principal): Promise<Checkpoint | undefined> {
    requireRole(principal, "admin", "auditor", "regulator", "submitter");
    return this.p.anchorer.checkpoints.latestHeld();
  }

  /** Filtered events, newest first, from the secondary indexes. */
  async events(principal: Principal, rawQuery: unknown): Promise<EventPage> {
    requireRole(principal, "admin", "auditor", "regulator", "submitter");
    const query = parseEventQuery(rawQuery);
    return queryEvents(
      { index: this.p.index, log: this.p.log, indexedSize: this.p.indexer.size, subjectSecret: this.p.subjectSecret },
      principal,
      query,
    );
  }

  statistics(principal: Principal, rawQuery: unknown): Promise<Statistics> {
    requireRole(principal, "admin", "auditor", "regulator");
    return computeStatistics(this.p.index, principal, rawQuery);
  }

  /** Checkpoint history with the anchoring lag of each (anchor time minus arrival of its newest event). */
  async anchoringHistory(principal: Principal, limit: number) {
    requireRole(principal, "admin", "auditor", "regulator");
    // One more than asked for: the oldest listed checkpoint's events are counted from the one before it.
    const listed = await this.p.anchorer.checkpoints.list({ limit: limit + 1 });
    const checkpoints = listed.slice(0, limit);
    const history = await Promise.all(
      checkpoints.map(async (c, i) => {
        const newest = await this.p.log.get(c.treeSize - 1);
        // Block times have whole seconds: a lag under a second can come out slightly negative; call it 0.
        const lagMs = newest ? Math.max(0, Date.parse(c.anchoredAt) - Date.parse(newest.envelope.receivedAt)) : null;
        return { ...c, events: c.treeSize - (listed[i + 1]?.treeSize ?? 0), lagMs };
      }),
    );
    const status = this.p.anchorer.status();
    const oldestPending = status.pendingEvents > 0 ? await this.p.log.get(status.anchoredSize) : undefined;
    return {
      pendingEvents: status.pendingEvents,
      oldestPendingAgeMs: oldestPending ? Date.now() - Date.parse(oldestPending.envelope.receivedAt) : 0,
      state: status.state,
      checkpoints: history,
    };
  }

  /**
   * For a citizen portal: who collected, accessed, received or used this
   * person's data, with a receipt each. The subject id is only hashed (HMAC),
   * never stored or logged.
   */
  async subjectAccesses(principal: Principal, request: unknown): Promise<{ accesses: SubjectAccess[]; next: string | null }> {
    requireRole(principal, "citizen-portal", "admin");
    const parsed = subjectRequestSchema.safeParse(request);
    if (!parsed.success) throw validationFailed("give { subject, cursor? }: the data subject's id (1 to 256 characters)", parsed.error.issues);
    const { subject, cursor } = parsed.data;
    const page = await queryEvents(
      { index: this.p.index, log: this.p.log, indexedSize: this.p.indexer.size, subjectSecret: this.p.subjectSecret },
      // The portal may see every event about the subject it names, whoever acted.
      { ...principal, role: "admin" },
      parseEventQuery({ subject, limit: "100", ...(cursor === undefined ? {} : { cursor }) }),
    );
    const names = await this.p.orgs.names(page.events.flatMap((r) => [r.envelope.event.actor.org, ...(r.envelope.event.recipient ? [r.envelope.event.recipient.org] : [])]));
    const accesses = await Promise.all(
      page.events.map(async (record): Promise<SubjectAccess> => {
        const { event } = record.envelope;
        const answer = await this.receiptOf(record);
        return {
          index: record.index,
          type: event.type,
          occurredAt: event.occurredAt,
          actor: { org: event.actor.org, orgName: names.get(event.actor.org), system: event.actor.system },
          recipient: event.recipient && { org: event.recipient.org, orgName: names.get(event.recipient.org) },
          dataset: event.dataset,
          fields: event.fields,
          purpose: event.purpose,
          legalBasis: event.legalBasis,
          receipt: answer.status === "anchored" ? answer.receipt : { status: "pending" },
        };
      }),
    );
    return { accesses, next: page.next };
  }

  status(principal: Principal) {
    requireRole(principal, "admin", "auditor", "regulator");
    const openLog = this.p.openLogStatus?.();
    return {
      log: openLog ? { ...this.p.chain, origin: openLog.origin, noteKey: openLog.noteKey } : this.p.chain,
      anchoring: this.p.anchorer.status(),
      indexedEvents: this.p.indexer.size,
      indexing: this.p.indexer.lastError ?? "ok",
      ...(openLog ? { openLog: { publishedSize: openLog.publishedSize, tiledSize: openLog.tiledSize, state: openLog.state } } : {}),
    };
  }
}

const subjectRequestSchema = z.strictObject({
  subject: z.string().min(1).max(256),
  cursor: z.string().regex(/^\d{1,16}$/).optional(),
});

function joinPath(prefix: string, path: PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), prefix);
}
