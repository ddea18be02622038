import { z } from "zod";
import { EVENT_TYPES } from "../domain/event-schema";
import { divisionOfOrg, isDivision, isWithin, LEVELS, levelOf, type Level } from "../domain/divisions";
import type { Envelope } from "../domain/envelope";

/**
 * The alert policy: the data-sharing negative list (负面清单), behavioural
 * thresholds for early warning (预警), and where to send alerts. Read from a JSON
 * file (see config/policy.example.json); `parsePolicy` validates it strictly and
 * `violations` evaluates the negative list on one envelope, with no I/O.
 *
 * A negative-list rule is a conjunction: an event violates the rule when it
 * satisfies every condition the rule states (conditions left out match anything):
 * - `eventTypes`: the event's type is one of these;
 * - `datasets`: the dataset id matches one of these globs;
 * - `fields`: at least one of the event's fields matches one of these globs;
 * - `recipient`: the event has a recipient, and it satisfies every stated
 *   sub-condition — `orgs` (its org id matches one of these globs), `levels` (its
 *   division is at one of these administrative levels), `outsideActorJurisdiction`
 *   (its division lies outside the actor's division at that level);
 * - `purposes`: the purpose is not allowed — it matches one of the `forbidden`
 *   globs, or an `allowed` list is given and it matches none of them. Purposes
 *   compare case-insensitively, with surrounding and repeated spaces ignored.
 * Globs: `*` any run of characters, `?` one character, everything else literal;
 * a glob matches the whole value (`3301*` for every org in city 3301).
 */

export const SEVERITIES = ["info", "warning", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

const severity = z.enum(SEVERITIES);

const glob = z
  .string()
  .min(1)
  .max(256)
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters");

const orgGlob = z
  .string()
  .min(1)
  .max(96)
  .regex(/^[0-9A-Za-z:._*?-]+$/, "an organisation glob: digits, letters, : . _ - and the wildcards * ?, e.g. *:commercial-* or 3301*");

const ruleId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, "1 to 64 letters, digits, . _ : - (starting with a letter or digit)");

const nonEmptyList = <T extends z.ZodType>(item: T, max = 256) => z.array(item).min(1).max(max);

const recipientCondition = z
  .strictObject({
    orgs: nonEmptyList(orgGlob).optional(),
    levels: nonEmptyList(z.enum(LEVELS), LEVELS.length).optional(),
    outsideActorJurisdiction: z.enum(LEVELS).optional(),
  })
  .refine((r) => r.orgs !== undefined || r.levels !== undefined || r.outsideActorJurisdiction !== undefined, {
    message: "state at least one of orgs, levels, outsideActorJurisdiction",
  });

const purposeCondition = z
  .strictObject({
    forbidden: nonEmptyList(glob).optional(),
    allowed: nonEmptyList(glob).optional(),
  })
  .refine((p) => p.forbidden !== undefined || p.allowed !== undefined, { message: "state forbidden, allowed or both" });

const negativeListRule = z
  .strictObject({
    id: ruleId,
    description: z.string().min(1).max(1024),
    severity,
    eventTypes: nonEmptyList(z.enum(EVENT_TYPES), EVENT_TYPES.length).optional(),
    datasets: nonEmptyList(glob).optional(),
    fields: nonEmptyList(glob).optional(),
    recipient: recipientCondition.optional(),
    purposes: purposeCondition.optional(),
  })
  .refine((r) => r.datasets !== undefined || r.fields !== undefined || r.recipient !== undefined || r.purposes !== undefined, {
    message: "a rule needs at least one of datasets, fields, recipient, purposes (eventTypes alone would flag every event)",
  });

const distinctSubjectsThreshold = z.strictObject({
  /** Alert when one operator touches more than this many distinct data subjects in one clock hour. */
  limit: z.number().int().min(1).max(1_000_000),
  severity: severity.default("warning"),
  /** Only these event types count; all types when left out. */
  eventTypes: nonEmptyList(z.enum(EVENT_TYPES), EVENT_TYPES.length).optional(),
});

const exportVolumeThreshold = z.strictObject({
  /** Alert when a day's count exceeds factor × the average daily count over the previous baselineDays days… */
  factor: z.number().min(1).max(1000),
  baselineDays: z.number().int().min(1).max(90),
  /** …and is at least this many (so a quiet department does not alert on its third export). */
  minCount: z.number().int().min(1),
  severity: severity.default("warning"),
  /** What counts as an export; `export` when left out. */
  eventTypes: nonEmptyList(z.enum(EVENT_TYPES), EVENT_TYPES.length).default(["export"]),
});

const webhookUrl = z
  .url({ protocol: /^https?$/, hostname: z.regexes.hostname, error: "must be an http:// or https:// URL" })
  .max(2048)
  .refine((u) => !new URL(u).username && !new URL(u).password, "must not carry user:password; use secret for signing");

const webhook = z.strictObject({
  url: webhookUrl,
  /** HMAC-SHA256 key for the X-Ledger-Signature header; never logged nor shown. */
  secret: z.string().min(16, "at least 16 characters").max(256).optional(),
});

export const policySchema = z
  .strictObject({
    version: z.literal(1),
    description: z.string().max(1024).optional(),
    /** UTC offset that defines clock hours and days for the thresholds (China Standard Time by default). */
    timeZone: z
      .string()
      .regex(/^[+-](0\d|1[0-4]):[0-5]\d$/, "a UTC offset such as +08:00")
      .default("+08:00"),
    negativeList: z.array(negativeListRule).max(1000).default([]),
    thresholds: z
      .strictObject({
        distinctSubjectsPerOperatorPerHour: distinctSubjectsThreshold.optional(),
        exportVolume: exportVolumeThreshold.optional(),
      })
      .default({}),
    webhooks: z.array(webhook).max(16).default([]),
  })
  .superRefine((policy, ctx) => {
    const seen = new Map<string, number>();
    policy.negativeList.forEach((rule, i) => {
      const first = seen.get(rule.id);
      if (first !== undefined) ctx.addIssue({ code: "custom", path: ["negativeList", i, "id"], message: `duplicate rule id ${JSON.stringify(rule.id)} (also negativeList[${first}])` });
      else seen.set(rule.id, i);
    });
    const urls = new Set<string>();
    policy.webhooks.forEach((w, i) => {
      if (urls.has(w.url)) ctx.addIssue({ code: "custom", path: ["webhooks", i, "url"], message: "duplicate webhook url" });
      urls.add(w.url);
    });
  });

export type Policy = z.infer<typeof policySchema>;
export type NegativeListRule = Policy["negativeList"][number];
export type WebhookConfig = Policy["webhooks"][number];

export const EMPTY_POLICY: Policy = Object.freeze(policySchema.parse({ version: 1 })) as Policy;

/** One problem in a policy document, located by a path such as `negativeList[2].recipient.levels[0]`. */
export interface PolicyIssue {
  path: string;
  message: string;
}

export class PolicyError extends Error {
  readonly issues: PolicyIssue[];

  constructor(message: string, issues: PolicyIssue[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PolicyError";
    this.issues = issues;
  }
}

/** Validates a policy document (already parsed JSON); throws PolicyError listing every bad field by path. */
export function parsePolicy(document: unknown): Policy {
  const result = policySchema.safeParse(document);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  const shown = issues.slice(0, 10).map((i) => `${i.path || "(root)"}: ${i.message}`);
  const more = issues.length > shown.length ? ` (and ${issues.length - shown.length} more)` : "";
  throw new PolicyError(`invalid policy: ${shown.join("; ")}${more}`, issues);
}

/** Parses and validates the text of a policy file. */
export function parsePolicyText(text: string): Policy {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new PolicyError(`invalid policy: not JSON (${(error as Error).message})`, [{ path: "", message: "not JSON" }], { cause: error });
  }
  return parsePolicy(document);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `${out ? "." : ""}${String(part)}`;
  return out;
}

/** The policy as shown to readers: webhook secrets replaced by a marker. */
export function redactPolicy(policy: Policy): Policy {
  return { ...policy, webhooks: policy.webhooks.map((w) => (w.secret === undefined ? { ...w } : { ...w, secret: "[redacted]" })) };
}

export interface Violation {
  ruleId: string;
  severity: Severity;
  description: string;
  /** What the event did and which conditions it met, for a human reader. */
  message: string;
}

/**
 * The negative-list rules this envelope violates, in policy order. Pure: the same
 * policy and envelope always give the same answer.
 */
export function violations(policy: Policy, envelope: Envelope): Violation[] {
  const found: Violation[] = [];
  for (const rule of compiled(policy)) {
    const reasons = rule.match(envelope);
    if (reasons) {
      found.push({ ruleId: rule.source.id, severity: rule.source.severity, description: rule.source.description, message: describe(rule.source, envelope, reasons) });
    }
  }
  return found;
}

interface CompiledRule {
  source: NegativeListRule;
  /** The reasons the envelope matches every condition, or undefined when one fails. */
  match(envelope: Envelope): string[] | undefined;
}

const compiledPolicies = new WeakMap<Policy, CompiledRule[]>();

function compiled(policy: Policy): CompiledRule[] {
  let rules = compiledPolicies.get(policy);
  if (!rules) {
    rules = policy.negativeList.map(compileRule);
    compiledPolicies.set(policy, rules);
  }
  return rules;
}

function compileRule(rule: NegativeListRule): CompiledRule {
  const datasets = rule.datasets?.map((g) => globRegExp(g));
  const fields = rule.fields?.map((g) => globRegExp(g));
  const orgs = rule.recipient?.orgs?.map((g) => globRegExp(g));
  const forbidden = rule.purposes?.forbidden?.map((g) => globRegExp(normalisePurpose(g), "i"));
  const allowed = rule.purposes?.allowed?.map((g) => globRegExp(normalisePurpose(g), "i"));

  return {
    source: rule,
    match(envelope) {
      const event = envelope.event;
      const reasons: string[] = [];
      if (rule.eventTypes && !rule.eventTypes.includes(event.type)) return undefined;
      if (datasets) {
        const i = datasets.findIndex((re) => re.test(event.dataset));
        if (i < 0) return undefined;
        reasons.push(`dataset matches ${JSON.stringify(rule.datasets![i])}`);
      }
      if (fields) {
        const hit = event.fields.filter((f) => fields.some((re) => re.test(f)));
        if (hit.length === 0) return undefined;
        reasons.push(`field${hit.length > 1 ? "s" : ""} ${hit.join(", ")}`);
      }
      if (rule.recipient) {
        const recipient = event.recipient?.org;
        if (recipient === undefined) return undefined;
        if (orgs) {
          const i = orgs.findIndex((re) => re.test(recipient));
          if (i < 0) return undefined;
          reasons.push(`recipient matches ${JSON.stringify(rule.recipient.orgs![i])}`);
        }
        if (rule.recipient.levels) {
          const level = orgLevel(recipient);
          if (level === undefined || !rule.recipient.levels.includes(level)) return undefined;
          reasons.push(`recipient at ${level} level`);
        }
        if (rule.recipient.outsideActorJurisdiction) {
          const jurisdiction = jurisdictionAt(divisionOfOrg(event.actor.org), rule.recipient.outsideActorJurisdiction);
          if (jurisdiction === undefined || isWithin(divisionOfOrg(recipient), jurisdiction)) return undefined;
          reasons.push(`recipient outside the actor's ${rule.recipient.outsideActorJurisdiction} ${jurisdiction}`);
        }
      }
      if (forbidden || allowed) {
        const purpose = normalisePurpose(event.purpose);
        const i = forbidden ? forbidden.findIndex((re) => re.test(purpose)) : -1;
        if (i >= 0) reasons.push(`purpose matches forbidden ${JSON.stringify(rule.purposes!.forbidden![i])}`);
        else if (allowed && !allowed.some((re) => re.test(purpose))) reasons.push("purpose not in the allowed list");
        else return undefined;
      }
      return reasons;
    },
  };
}

function describe(rule: NegativeListRule, envelope: Envelope, reasons: string[]): string {
  const e = envelope.event;
  const to = e.recipient ? ` to ${e.recipient.org}` : "";
  return `${rule.id} (${rule.description}): ${e.type} of ${e.dataset} by ${e.actor.org}${to} for purpose ${JSON.stringify(e.purpose)} — ${reasons.join("; ")}`;
}

/** `*` any run, `?` one character, anchored at both ends; everything else literal. */
export function globRegExp(pattern: string, flags = ""): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : `\\${c}`));
  return new RegExp(`^${body}$`, flags + "u");
}

function normalisePurpose(text: string): string {
  return text.trim().replace(/\s+/g, " ");
}

function orgLevel(org: string): Level | undefined {
  const division = divisionOfOrg(org);
  return isDivision(division) ? levelOf(division) : undefined;
}

const LEVEL_DIGITS: Record<Exclude<Level, "grid">, number> = { province: 2, city: 4, county: 6, township: 9, village: 12 };

/**
 * The division enclosing `division` at `level`: the actor's county, city… When the
 * division is already at that level or above it, the division itself.
 */
export function jurisdictionAt(division: string, level: Level): string | undefined {
  if (!isDivision(division)) return undefined;
  const own = levelOf(division);
  if (LEVELS.indexOf(level) >= LEVELS.indexOf(own)) return division;
  const digits = LEVEL_DIGITS[level as Exclude<Level, "grid">];
  return division.slice(0, digits).padEnd(12, "0");
}
