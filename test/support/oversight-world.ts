/**
 * A realistic multi-county world for the oversight tests (test/oversight/):
 * divisions at all six administrative levels in two cities of one province (and
 * a county of another province), departments placed in them, a deterministic
 * generator of provenance events (shares across counties, several subjects,
 * several days and UTC offsets), and the expectations computed in the test —
 * which events a key may see, which events a filter selects, the statistics —
 * written from the README/DESIGN text, never by calling the server's code.
 *
 * Gateways are real (startGateway + loadConfig, temp DATA_DIR, PORT 0,
 * CHAIN_PORT 0, real Anvil and LevelDB); everything is asked over HTTP.
 */
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import {
  makeTempDir,
  request,
  startTestGateway,
  type ApiResponse,
  type RequestOptions,
  type TestEvent,
  type TestGateway,
} from "./gateway-harness";
import { seededRandom } from "./seeded-random";

/** Seeded PRNG, so the seeded world is the same every run. */
export const prng = seededRandom;

// ---------------------------------------------------------------- the registry

export const LEVELS = ["province", "city", "county", "township", "village", "grid"] as const;
export type Level = (typeof LEVELS)[number];

export const DIVISIONS = [
  { code: "330000000000", name: "浙江省" },
  { code: "330100000000", name: "杭州市" },
  { code: "330102000000", name: "上城区" },
  { code: "330102003000", name: "湖滨街道" },
  { code: "330102003004", name: "东坡路社区" },
  { code: "330102003004-G01", name: "东坡路社区第一网格" },
  { code: "330102003004-G02", name: "东坡路社区第二网格" },
  { code: "330102004000", name: "清波街道" },
  { code: "330102004001", name: "清波门社区" },
  { code: "330103000000", name: "下城区" },
  { code: "330103001000", name: "天水街道" },
  { code: "330103001002", name: "武林社区" },
  { code: "330103001002-G01", name: "武林社区第一网格" },
  { code: "330200000000", name: "宁波市" },
  { code: "330203000000", name: "海曙区" },
  { code: "330203002000", name: "月湖街道" },
  { code: "330203002001", name: "青石社区" },
  { code: "310000000000", name: "上海市" },
  { code: "310101000000", name: "黄浦区" },
];

/** Departments: the short names are used by the tests, the ids by the API. */
export const ORG = {
  province: "330000000000:health-commission",
  hangzhouData: "330100000000:big-data-bureau",
  a1Health: "330102000000:health",
  a1Civil: "330102000000:civil-affairs",
  a1Township: "330102003000:civil-affairs",
  a1Village: "330102003004:committee",
  a1Grid1: "330102003004-G01:grid-office",
  a1Grid2: "330102003004-G02:grid-office",
  a1Village2: "330102004001:committee",
  a2Civil: "330103000000:civil-affairs",
  a2Police: "330103000000:public-security",
  a2Township: "330103001000:civil-affairs",
  a2Grid: "330103001002-G01:grid-office",
  ningboData: "330200000000:big-data-bureau",
  b1Civil: "330203000000:civil-affairs",
  b1Village: "330203002001:committee",
  shanghaiMarket: "310101000000:market-regulation",
  shanghaiBank: "310101000000:commercial-bank",
} as const;

export const ORG_NAMES: Record<string, string> = {
  [ORG.province]: "浙江省卫生健康委员会",
  [ORG.hangzhouData]: "杭州市数据资源管理局",
  [ORG.a1Health]: "上城区卫生健康局",
  [ORG.a1Civil]: "上城区民政局",
  [ORG.a1Township]: "湖滨街道民政办",
  [ORG.a1Village]: "东坡路社区居委会",
  [ORG.a1Grid1]: "东坡路第一网格工作站",
  [ORG.a1Grid2]: "东坡路第二网格工作站",
  [ORG.a1Village2]: "清波门社区居委会",
  [ORG.a2Civil]: "下城区民政局",
  [ORG.a2Police]: "下城区公安分局",
  [ORG.a2Township]: "天水街道民政办",
  [ORG.a2Grid]: "武林第一网格工作站",
  [ORG.ningboData]: "宁波市大数据发展管理局",
  [ORG.b1Civil]: "海曙区民政局",
  [ORG.b1Village]: "青石社区居委会",
  [ORG.shanghaiMarket]: "黄浦区市场监督管理局",
  [ORG.shanghaiBank]: "某商业银行黄浦支行",
};

export const ALL_ORGS: string[] = Object.values(ORG);

export const REGISTRY = {
  divisions: DIVISIONS,
  orgs: ALL_ORGS.map((id) => ({ id, name: ORG_NAMES[id]! })),
};

export const DATASETS = ["household-registry", "health-records", "social-assistance", "real-estate-registry", "grid-inspections"];
export const TYPES = ["collect", "access", "share", "use", "modify", "export", "delete"] as const;
const FIELDS = ["name", "address", "id-number", "phone", "income", "diagnosis", "household-members"];
const PURPOSES = ["subsidy eligibility check", "epidemic follow-up", "grid inspection", "housing assistance review", "statistics"];
const LEGAL_BASES = ["社会救助暂行办法 第十一条", "Regulation 12", "传染病防治法 第十二条", "Data Security Law art. 38"];

/** Raw subject ids (resident ID numbers). They must never be stored, logged or answered in the clear. */
export const SUBJECTS = [
  "330102199001011234",
  "330102198505052345",
  "33010319770303456X",
  "330103200102023456",
  "330203196612124567",
  "330203199909095678",
  "310101198008086789",
  "330102201010107890",
  "33010219550505891X",
  "330103198811119012",
];

// ------------------------------------------------- divisions, written from the README

const SIGNIFICANT: Record<Exclude<Level, "grid">, number> = { province: 2, city: 4, county: 6, township: 9, village: 12 };

export function divisionOf(org: string): string {
  return org.split(":")[0]!;
}

/** Level of a division code: 2 province digits, 2 city, 2 county, 3 township, 3 village; `-G…` a grid. */
export function levelOf(division: string): Level {
  if (division.includes("-G")) return "grid";
  if (/^\d{2}0{10}$/.test(division)) return "province";
  if (/^\d{4}0{8}$/.test(division)) return "city";
  if (/^\d{6}0{6}$/.test(division)) return "county";
  if (/^\d{9}000$/.test(division)) return "township";
  return "village";
}

/** Does `division` lie inside (or equal) `jurisdiction`? */
export function divisionInside(division: string, jurisdiction: string): boolean {
  const level = levelOf(jurisdiction);
  if (level === "grid") return division === jurisdiction;
  return division.startsWith(jurisdiction.slice(0, SIGNIFICANT[level]));
}

export function orgInside(org: string, jurisdiction: string): boolean {
  return divisionInside(divisionOf(org), jurisdiction);
}

// ------------------------------------------------------------------ the events


export function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * `count` events across the world: every org acts, every type occurs, shares go
 * across counties and cities, most events name a subject, times spread over
 * 2026-11-20…25 written with +08:00 or Z. requestIds are `<prefix>.<nnnn>.rq`,
 * unique strings that the scope tests look for in every answer.
 */
export function generateEvents(count: number, seed: number, prefix: string): TestEvent[] {
  const rng = prng(seed);
  const events: TestEvent[] = [];
  for (let i = 0; i < count; i++) {
    // Every org acts and every type occurs at least once in the first rounds; the rest at random.
    const actor = i < ALL_ORGS.length ? ALL_ORGS[i]! : pick(rng, ALL_ORGS);
    const type = i < TYPES.length ? TYPES[(i * 3) % TYPES.length]! : pick(rng, TYPES);
    const withRecipient = type === "share" || rng() < 0.25;
    const recipient = withRecipient ? pick(rng, ALL_ORGS.filter((o) => o !== actor)) : undefined;
    const subject = rng() < 0.8 ? pick(rng, SUBJECTS) : undefined;
    const fields = FIELDS.filter(() => rng() < 0.35);
    if (fields.length === 0) fields.push(pick(rng, FIELDS));
    const day = 20 + Math.floor(rng() * 6);
    const offset = rng() < 0.5 ? "+08:00" : "Z";
    const occurredAt = `2026-11-${day}T${pad(Math.floor(rng() * 24))}:${pad(Math.floor(rng() * 60))}:${pad(Math.floor(rng() * 60))}${offset}`;
    const event: TestEvent = {
      type,
      actor: { org: actor, system: pick(rng, ["minzheng-app", "health-portal", "grid-app"]), operator: `op-${1 + Math.floor(rng() * 6)}` },
      dataset: pick(rng, DATASETS),
      purpose: pick(rng, PURPOSES),
      legalBasis: pick(rng, LEGAL_BASES),
      fields,
      occurredAt,
      requestId: `${prefix}.${pad(i, 4)}.rq`,
    };
    if (subject !== undefined) event.subject = subject;
    if (recipient !== undefined) event.recipient = { org: recipient };
    events.push(event);
  }
  return events;
}

/** One event as the ledger holds it, with what the tests know about it. */
export interface Seeded {
  index: number;
  event: TestEvent;
  /** Id of the submitter key that recorded it. */
  submitter: string;
}

// --------------------------------------------------------------- expectations

export type Scope =
  | { role: "admin" }
  | { role: "regulator"; jurisdiction: string }
  | { role: "auditor"; datasets?: string[]; orgs?: string[] }
  | { role: "submitter"; id: string }
  | { role: "citizen-portal" };

/** Which events a key may read, from the README's scope rules. */
export function visible(scope: Scope, s: Seeded): boolean {
  const { actor, recipient, dataset } = s.event;
  switch (scope.role) {
    case "admin":
      return true;
    case "regulator":
      return orgInside(actor.org, scope.jurisdiction) || (recipient !== undefined && orgInside(recipient.org, scope.jurisdiction));
    case "auditor":
      return (
        (scope.datasets === undefined || scope.datasets.includes(dataset)) &&
        (scope.orgs === undefined || scope.orgs.includes(actor.org) || (recipient !== undefined && scope.orgs.includes(recipient.org)))
      );
    case "submitter":
      return s.submitter === scope.id;
    default:
      return false;
  }
}

/** The query filters of GET /v1/events, as the README describes them. */
export type EventFilter = Partial<Record<"org" | "subtree" | "division" | "dataset" | "type" | "subject" | "recipient" | "from" | "to", string>>;

/**
 * Does an event pass a filter? `org`: the actor or the recipient is that org
 * (with `subtree=true`: lies in the org's division subtree); `division`: actor or
 * recipient inside it; `recipient`: the recipient is that org; `from`/`to`: the
 * instant of occurredAt, both ends inclusive.
 */
export function matches(filter: EventFilter, s: Seeded): boolean {
  const e = s.event;
  const orgs = [e.actor.org, ...(e.recipient ? [e.recipient.org] : [])];
  if (filter.org !== undefined) {
    if (filter.subtree === "true") {
      if (!orgs.some((o) => orgInside(o, divisionOf(filter.org!)))) return false;
    } else if (!orgs.includes(filter.org)) return false;
  }
  if (filter.division !== undefined && !orgs.some((o) => orgInside(o, filter.division!))) return false;
  if (filter.dataset !== undefined && e.dataset !== filter.dataset) return false;
  if (filter.type !== undefined && e.type !== filter.type) return false;
  if (filter.subject !== undefined && e.subject !== filter.subject) return false;
  if (filter.recipient !== undefined && e.recipient?.org !== filter.recipient) return false;
  const t = Date.parse(e.occurredAt);
  if (filter.from !== undefined && t < Date.parse(filter.from)) return false;
  if (filter.to !== undefined && t > Date.parse(filter.to)) return false;
  return true;
}

/** Leaf indexes, newest first (the order of GET /v1/events). */
export function newestFirst(seeded: Seeded[]): number[] {
  return seeded.map((s) => s.index).sort((a, b) => b - a);
}

export interface ExpectedStatistics {
  total: number;
  byLevel: Record<string, number>;
  byDepartment: Record<string, number>;
  byType: Record<string, number>;
  byDay: Record<string, number>;
}

/**
 * The dashboard counts of README "GET /v1/stats": by the actor's organisation,
 * its level, the type and the day of occurredAt as written (its own offset);
 * days from..to inclusive.
 */
export function expectedStatistics(seeded: Seeded[], keep: (s: Seeded) => boolean, fromDay: string, toDay: string): ExpectedStatistics {
  const stats: ExpectedStatistics = { total: 0, byLevel: Object.fromEntries(LEVELS.map((l) => [l, 0])), byDepartment: {}, byType: {}, byDay: {} };
  for (const s of seeded) {
    const day = s.event.occurredAt.slice(0, 10);
    if (day < fromDay || day > toDay || !keep(s)) continue;
    const org = s.event.actor.org;
    stats.total += 1;
    stats.byLevel[levelOf(divisionOf(org))]! += 1;
    stats.byDepartment[org] = (stats.byDepartment[org] ?? 0) + 1;
    stats.byType[s.event.type] = (stats.byType[s.event.type] ?? 0) + 1;
    stats.byDay[day] = (stats.byDay[day] ?? 0) + 1;
  }
  return stats;
}

const secrets = new Map<string, Buffer>();

/** subjectRef = HMAC-SHA256(secret, subject id) as 0x-hex (DESIGN.md), with the secret read from DATA_DIR/subject-secret. */
export function independentSubjectRef(dataDir: string, subject: string): string {
  let secret = secrets.get(dataDir);
  if (!secret) {
    secret = Buffer.from(readFileSync(path.join(dataDir, "subject-secret"), "utf8").trim(), "hex");
    secrets.set(dataDir, secret);
  }
  return "0x" + createHmac("sha256", secret).update(subject, "utf8").digest("hex");
}

/** The event as the envelope must hold it: the subject replaced by its subjectRef, nothing else changed. */
export function storedForm(dataDir: string, event: TestEvent): Record<string, unknown> {
  const { subject, ...rest } = event;
  return subject === undefined ? { ...rest } : { ...rest, subjectRef: independentSubjectRef(dataDir, subject) };
}

// ------------------------------------------------------------------ gateways

export interface OversightGateway extends TestGateway {
  /** A new key (through the gateway's key store, as `ledger keys create` would). */
  createKey(params: { name: string; role: string; jurisdiction?: string; datasets?: string[]; orgs?: string[] }): Promise<{ key: string; id: string }>;
  /** Every answer received so far (when `record` was set), to search for what must never be answered. */
  answers: string[];
}

/**
 * A real gateway as the brief asks (startTestGateway: `startGateway(loadConfig({...}))`) on `dataDir`
 * (a new temp dir if omitted), PORT 0, CHAIN_PORT 0, fast anchoring unless
 * overridden by `env`. With `logFile`, the gateway logs at trace level to that
 * file (so tests can check what was logged). With `record`, every answer's text is
 * kept in `answers`.
 */
export async function startOversightGateway(
  options: { dataDir?: string; env?: Record<string, string>; logFile?: string; record?: boolean } = {},
): Promise<OversightGateway> {
  if (options.logFile) mkdirSync(path.dirname(options.logFile), { recursive: true });
  const logger = options.logFile ? pino({ level: "trace" }, pino.destination({ dest: options.logFile, sync: true, append: true })) : undefined;
  const base = await startTestGateway({ dataDir: options.dataDir ?? makeTempDir("oversight-"), env: { CHAIN_PORT: "0", ...options.env }, logger });
  const answers: string[] = [];
  return {
    ...base,
    answers,
    api: async (method: string, route: string, requestOptions?: RequestOptions) => {
      const response = await requestRetryingReset(base.url, method, route, requestOptions);
      if (options.record) answers.push(response.text);
      return response;
    },
    createKey: async (params) => {
      const made = await base.gateway.keys.create(params as never);
      return { key: made.key, id: made.record.id };
    },
  };
}

/**
 * A read that meets a keep-alive socket the server has just closed (a race of
 * the two idle timers in one process, after a long synchronous check in a test)
 * fails with ECONNRESET before reaching the server; reads are repeated once then.
 */
async function requestRetryingReset(baseUrl: string, method: string, route: string, options?: RequestOptions): Promise<ApiResponse> {
  try {
    return await request(baseUrl, method, route, options);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (method !== "GET" || !["ECONNRESET", "UND_ERR_SOCKET"].includes(cause?.code ?? "")) throw error;
    return request(baseUrl, method, route, options);
  }
}

/** POSTs events as batches with one key; returns their leaf indexes in order. */
export async function submitAll(g: TestGateway, key: string, events: TestEvent[]): Promise<number[]> {
  const indices: number[] = [];
  for (let i = 0; i < events.length; i += 1000) {
    const chunk = events.slice(i, i + 1000);
    const response = await g.api("POST", "/v1/events", { key, json: { events: chunk } });
    expect(response.status, response.text).to.equal(201);
    for (const r of response.body.events as { index: number; created: boolean }[]) {
      expect(r.created).to.equal(true);
      indices.push(r.index);
    }
  }
  return indices;
}

export function queryString(query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export interface Walk {
  indices: number[];
  records: { index: number; envelope: any }[];
  pages: number;
}

/**
 * Follows `next` from the first page to the last: every page answers 200, the
 * indexes come strictly newest first across pages (so no duplicates), and the
 * walk ends (bounded by `maxPages`).
 */
export async function walkEvents(g: TestGateway, key: string, filter: Record<string, string | undefined>, limit?: number, maxPages = 2000): Promise<Walk> {
  const records: { index: number; envelope: any }[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const response = await g.api("GET", `/v1/events${queryString({ ...filter, ...(limit === undefined ? {} : { limit: String(limit) }), cursor })}`, { key });
    expect(response.status, `GET /v1/events ${JSON.stringify(filter)}: ${response.text}`).to.equal(200);
    pages += 1;
    const page = response.body.events as { index: number; envelope: any }[];
    if (limit !== undefined) expect(page.length).to.be.at.most(limit);
    records.push(...page);
    const next = response.body.next as string | null;
    if (next === null) break;
    expect(next, "next cursor").to.be.a("string");
    cursor = next;
    if (pages >= maxPages) throw new Error(`more than ${maxPages} pages for ${JSON.stringify(filter)}`);
  }
  const indices = records.map((r) => r.index);
  for (let i = 1; i < indices.length; i++) expect(indices[i], `page order of ${JSON.stringify(filter)} at ${i}`).to.be.below(indices[i - 1]!);
  return { indices, records, pages };
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!, i);
      }
    }),
  );
  return results;
}

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const stat = statSync(full);
    if (stat.isDirectory()) out.push(...filesUnder(full));
    else if (stat.isFile()) out.push(full); // not the gateway's control socket
  }
  return out;
}

export function expectStatus(response: ApiResponse, status: number, what: string): void {
  expect(response.status, `${what}: ${response.text}`).to.equal(status);
}
