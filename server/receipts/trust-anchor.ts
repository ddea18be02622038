import { z } from "zod";
import type { Hex } from "../hex";
import { ReceiptError } from "./receipt-error";

/**
 * Trust anchors (DESIGN.md "Trust anchors"): a receipt names its own log, chain
 * and contract, so a forger can name a contract of their own that answers
 * `rootAt` with any root. A receipt is valid only for a log its verifier was
 * given out of band, as a log list file. Pure: no I/O here, so the console
 * bundles this module as it is (reading a file is in load-log-list.ts).
 */

/** What identifies a log: the triple every receipt names in `log`. */
export interface LogIdentity {
  logId: Hex;
  chainId: number;
  contract: Hex;
}

export interface LogListEntry extends LogIdentity {
  name: string;
  division: string;
  /** C2SP note verifier key, once checkpoints are signed. */
  noteKey?: string;
}

/** The log list file: `{ version: 1, logs: [...] }`. */
export interface LogList {
  version: 1;
  logs: LogListEntry[];
}

/** What verifiers accept: a log list, or the one log given as --log-id/--contract/--chain-id. */
export interface TrustAnchor<T extends LogIdentity = LogIdentity> {
  readonly logs: readonly T[];
}

export type TrustAnchorErrorCode = "LOG_LIST_UNREADABLE" | "LOG_LIST_NOT_JSON" | "LOG_LIST_MALFORMED" | "LOG_LIST_DUPLICATE";

/** A log list (or a log given by flags) that cannot serve as a trust anchor. */
export class TrustAnchorError extends Error {
  readonly code: TrustAnchorErrorCode;

  constructor(code: TrustAnchorErrorCode, message: string) {
    super(message);
    this.name = "TrustAnchorError";
    this.code = code;
  }
}

// Any case is accepted (people paste EIP-55 checksummed addresses) and kept lowercase, the spelling of receipts.
const hex32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "32 bytes as 0x + 64 hex digits")
  .transform((s) => s.toLowerCase() as Hex);
const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "an address as 0x + 40 hex digits")
  .transform((s) => s.toLowerCase() as Hex);
const chainId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const logIdentitySchema = z.object({ logId: hex32, chainId, contract: address });

export const logListEntrySchema = logIdentitySchema.extend({
  name: z.string().min(1).max(128),
  division: z.string().regex(/^\d{12}$/, "a 12-digit division code"),
  noteKey: z.string().min(1).max(1024).optional(),
});

export const logListSchema = z.object({
  version: z.literal(1),
  logs: z.array(logListEntrySchema).min(1, "a log list that names no log trusts nothing").max(10_000),
});

/** Parses a log list (attacker-controlled until proven otherwise); throws TrustAnchorError naming the first problem. */
export function parseLogList(input: unknown, source = "the log list"): LogList {
  const parsed = logListSchema.safeParse(input);
  if (!parsed.success) throw malformed(source, parsed.error);
  const list = { version: 1 as const, logs: parsed.data.logs.map(withoutUndefined) };
  refuseDuplicates(list.logs, source);
  return list;
}

/** The same from the file's text. */
export function parseLogListText(text: string, source = "the log list"): LogList {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    throw new TrustAnchorError("LOG_LIST_NOT_JSON", `${source} is not JSON: ${(error as Error).message}`);
  }
  return parseLogList(input, source);
}

/** A trust anchor of one log, as given on a command line. */
export function singleLogAnchor(input: { logId: unknown; chainId: unknown; contract: unknown }, source = "the trusted log"): TrustAnchor {
  const parsed = logIdentitySchema.safeParse(input);
  if (!parsed.success) throw malformed(source, parsed.error);
  return { logs: [parsed.data] };
}

/**
 * The trusted entry for a receipt's `log`, or ReceiptError UNTRUSTED_LOG. All three
 * must match one entry: a trusted log id with another contract or chain is exactly
 * what a forged receipt looks like.
 */
export function trustedLogFor<T extends LogIdentity>(log: { id: string; chainId: number; contract: string }, trust: TrustAnchor<T>): T {
  const id = log.id.toLowerCase();
  const contract = log.contract.toLowerCase();
  const entry = trust.logs.find((t) => t.logId === id && t.chainId === log.chainId && t.contract === contract);
  if (entry) return entry;
  const sameId = trust.logs.find((t) => t.logId === id);
  const why = sameId
    ? `; the trusted log ${id} is at contract ${sameId.contract} on chain ${sameId.chainId}`
    : ` (${trust.logs.length} trusted log${trust.logs.length === 1 ? "" : "s"})`;
  throw new ReceiptError(
    "UNTRUSTED_LOG",
    `the receipt's log ${id} on chain ${log.chainId} at contract ${contract} is not a trusted log${why}`,
  );
}

/** Whether two entries name the same log (used to merge a gateway's own entry with TRUSTED_LOGS). */
export function sameLog(a: LogIdentity, b: LogIdentity): boolean {
  return a.logId === b.logId && a.chainId === b.chainId && a.contract === b.contract;
}

// A log id names one log with one writer: listed twice, at best it is redundant, at worst
// two entries disagree on its contract or chain, and the list cannot say which is genuine.
function refuseDuplicates(logs: readonly LogListEntry[], source: string): void {
  const seen = new Map<string, number>();
  logs.forEach((entry, i) => {
    const first = seen.get(entry.logId);
    if (first !== undefined) {
      throw new TrustAnchorError("LOG_LIST_DUPLICATE", `${source}: logs[${i}] repeats log ${entry.logId} of logs[${first}]; list each log once`);
    }
    seen.set(entry.logId, i);
  });
}

function malformed(source: string, error: z.ZodError): TrustAnchorError {
  const issue = error.issues[0]!;
  const where = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  return new TrustAnchorError("LOG_LIST_MALFORMED", `${source} is malformed at ${where || "(root)"}: ${issue.message}`);
}

function withoutUndefined(entry: LogListEntry): LogListEntry {
  const { noteKey, ...rest } = entry;
  return noteKey === undefined ? rest : { ...rest, noteKey };
}
