import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { AppError } from "../errors";
import { isDivision, ORG_PATTERN } from "../domain/divisions";
import { SYNCED, type Database } from "../store/database";

/**
 * API keys. A key reads `pl_<id>_<secret>`; only SHA-256 of the whole key is
 * stored, so a copy of the database does not hand out working keys. Keys are
 * looked up by id and compared in constant time.
 */

/** `monitor`: reads the whole log through the open log's entry bundles (server/openlog/), and nothing else. */
export const ROLES = ["admin", "submitter", "auditor", "regulator", "citizen-portal", "monitor"] as const;
export type Role = (typeof ROLES)[number];

export interface KeyRecord {
  id: string;
  name: string;
  role: Role;
  /** Division code the key is bound to (regulators: what they may read; submitters: where their actors sit). */
  jurisdiction?: string;
  /** Auditors only: when set, the key sees only events of these datasets and/or these organisations. */
  datasets?: string[];
  orgs?: string[];
  hash: string;
  createdAt: string;
  revokedAt?: string;
}

export type Principal = Omit<KeyRecord, "hash">;

export interface CreateKeyParameters {
  name: string;
  role: Role;
  jurisdiction?: string;
  datasets?: string[];
  orgs?: string[];
}

const KEY_PATTERN = /^pl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** The id a presented key names, if it has the form of a key (whether or not such a key exists). */
export function keyIdOf(presented: string): string | undefined {
  return KEY_PATTERN.exec(presented)?.[1];
}

export class KeyStore {
  private readonly keys;
  private readonly cache = new Map<string, KeyRecord>();

  private constructor(db: Database) {
    this.keys = db.sublevel<string, string>("keys", { valueEncoding: "utf8" });
  }

  static async open(db: Database): Promise<KeyStore> {
    const store = new KeyStore(db);
    for await (const value of store.keys.values()) {
      const record = JSON.parse(value) as KeyRecord;
      store.cache.set(record.id, record);
    }
    return store;
  }

  /** Creates a key and returns it in the clear, once; only its hash is kept. */
  async create(parameters: CreateKeyParameters): Promise<{ key: string; record: Principal }> {
    const [created] = await this.createAll([parameters]);
    return created!;
  }

  /**
   * Creates several keys in one synced write, all or none. `beforeStoring` gets them
   * in the clear first (to hand them out, e.g. write them to a file): a crash before
   * the write leaves no key stored whose secret was never handed out.
   */
  async createAll(
    parameters: CreateKeyParameters[],
    beforeStoring?: (created: { key: string; record: Principal }[]) => void,
  ): Promise<{ key: string; record: Principal }[]> {
    const prepared = parameters.map((p) => prepareKey(p));
    const created = prepared.map(({ key, record }) => ({ key, record: toPrincipal(record) }));
    beforeStoring?.(created);
    await this.keys.batch(
      prepared.map(({ record }) => ({ type: "put" as const, key: record.id, value: JSON.stringify(record) })),
      SYNCED,
    );
    for (const { record } of prepared) this.cache.set(record.id, record);
    return created;
  }

  async revoke(id: string): Promise<Principal> {
    const record = this.cache.get(id);
    if (!record) throw new AppError({ code: "NOT_FOUND", message: `no key with id ${JSON.stringify(id)}` });
    if (!record.revokedAt) {
      const revoked = { ...record, revokedAt: new Date().toISOString() };
      await this.keys.put(id, JSON.stringify(revoked), SYNCED);
      this.cache.set(id, revoked);
    }
    return toPrincipal(this.cache.get(id)!);
  }

  /** The key with this id (revoked or not), if there is one. */
  get(id: string): Principal | undefined {
    const record = this.cache.get(id);
    return record && toPrincipal(record);
  }

  list(): Principal[] {
    return [...this.cache.values()].map(toPrincipal);
  }

  /** The principal a presented key stands for, or an UNAUTHENTICATED error. */
  authenticate(presented: string): Principal {
    const match = KEY_PATTERN.exec(presented);
    const record = match ? this.cache.get(match[1]!) : undefined;
    // Compare even for an unknown id, so timing does not tell which ids exist.
    const expected = Buffer.from(record?.hash ?? DUMMY_HASH, "hex");
    const equal = timingSafeEqual(expected, Buffer.from(hashKey(presented), "hex"));
    if (!record || !equal) throw new AppError({ code: "UNAUTHENTICATED", message: "unknown API key" });
    if (record.revokedAt) throw new AppError({ code: "UNAUTHENTICATED", message: "this API key was revoked" });
    return toPrincipal(record);
  }
}

const DUMMY_HASH = "00".repeat(32);

/** Checks the parameters and makes a key and its record (not stored). */
function prepareKey({ name, role, jurisdiction, datasets, orgs }: CreateKeyParameters): { key: string; record: KeyRecord } {
  if (!ROLES.includes(role)) {
    throw new AppError({ code: "VALIDATION_FAILED", message: `role must be one of ${ROLES.join(", ")}; got ${JSON.stringify(role)}` });
  }
  if (!name || name.length > 128) {
    throw new AppError({ code: "VALIDATION_FAILED", message: "name must be 1 to 128 characters" });
  }
  if (jurisdiction !== undefined && !isDivision(jurisdiction)) {
    throw new AppError({ code: "VALIDATION_FAILED", message: `jurisdiction must be a 12-digit division code; got ${JSON.stringify(jurisdiction)}` });
  }
  if (role === "regulator" && jurisdiction === undefined) {
    throw new AppError({ code: "VALIDATION_FAILED", message: "a regulator key needs a jurisdiction" });
  }
  if ((datasets !== undefined || orgs !== undefined) && role !== "auditor") {
    throw new AppError({ code: "VALIDATION_FAILED", message: "only auditor keys are bound to datasets or organisations" });
  }
  for (const org of orgs ?? []) {
    if (!ORG_PATTERN.test(org)) throw new AppError({ code: "VALIDATION_FAILED", message: `not an organisation id: ${JSON.stringify(org)}` });
  }
  for (const dataset of datasets ?? []) {
    if (typeof dataset !== "string" || dataset.length === 0 || dataset.length > 128) {
      throw new AppError({ code: "VALIDATION_FAILED", message: `not a dataset id: ${JSON.stringify(dataset)}` });
    }
  }
  const id = randomBytes(6).toString("hex");
  const key = `pl_${id}_${randomBytes(32).toString("base64url")}`;
  const record: KeyRecord = { id, name, role, jurisdiction, datasets, orgs, hash: hashKey(key), createdAt: new Date().toISOString() };
  return { key, record };
}

function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

function toPrincipal({ hash: _hash, ...principal }: KeyRecord): Principal {
  return principal;
}
