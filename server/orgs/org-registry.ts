import { z } from "zod";
import { AppError, validationFailed } from "../errors";
import { divisionOfOrg, isWithin, levelOf, ORG_PATTERN, DIVISION_PATTERN, type Level } from "../domain/divisions";
import { SYNCED, type Database } from "../store/database";

/**
 * The organisation registry: departments placed in the administrative
 * hierarchy by their division code, and names for the divisions themselves.
 * The hierarchy is in the codes; the registry adds names and lets consoles
 * draw the tree. Sublevel `orgs`: `o|<org id>` → org, `d|<division>` → name.
 */

export interface Organisation {
  id: string;
  name: string;
  division: string;
  level: Level;
}

export interface Division {
  code: string;
  name: string;
  level: Level;
}

const name = z.string().min(1).max(200);
export const registryFileSchema = z.strictObject({
  divisions: z.array(z.strictObject({ code: z.string().regex(DIVISION_PATTERN, "a 12-digit division code"), name })).max(100_000).default([]),
  orgs: z.array(z.strictObject({ id: z.string().regex(ORG_PATTERN, "an organisation id <division>:<department>"), name })).max(100_000).default([]),
});
export type RegistryFile = z.infer<typeof registryFileSchema>;

/** Parses a registry file: JSON `{divisions, orgs}` or CSV lines `code,name` / `org id,name`. */
export function parseRegistryFile(text: string, format: "json" | "csv"): RegistryFile {
  let raw: unknown;
  if (format === "json") {
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new AppError({ code: "BAD_REQUEST", message: `not JSON: ${(error as Error).message}` });
    }
  } else {
    const divisions: { code: string; name: string }[] = [];
    const orgs: { id: string; name: string }[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const trimmed = line.trim();
      if (!trimmed || trimmed.startsWith("#") || (i === 0 && /^(id|code),/i.test(trimmed))) return;
      const comma = trimmed.indexOf(",");
      if (comma < 0) throw new AppError({ code: "VALIDATION_FAILED", message: `line ${i + 1}: want \`id,name\`` });
      const id = trimmed.slice(0, comma).trim();
      const value = trimmed.slice(comma + 1).trim().replace(/^"(.*)"$/, "$1");
      (id.includes(":") ? orgs.push({ id, name: value }) : divisions.push({ code: id, name: value }));
    });
    raw = { divisions, orgs };
  }
  return parseRegistry(raw);
}

/** Validates a registry given as a value (e.g. a request body). */
export function parseRegistry(raw: unknown): RegistryFile {
  const parsed = registryFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw validationFailed("invalid registry", parsed.error.issues);
  }
  return parsed.data;
}

export class OrgRegistry {
  private readonly store;

  constructor(db: Database) {
    this.store = db.sublevel<string, string>("orgs", { valueEncoding: "utf8" });
  }

  /** Adds or renames divisions and organisations, atomically. */
  async upsert(file: RegistryFile): Promise<{ divisions: number; orgs: number }> {
    const ops = [
      ...file.divisions.map((d) => ({ type: "put" as const, key: `d|${d.code}`, value: JSON.stringify({ code: d.code, name: d.name, level: levelOf(d.code) }) })),
      ...file.orgs.map((o) => {
        const division = divisionOfOrg(o.id);
        return { type: "put" as const, key: `o|${o.id}`, value: JSON.stringify({ id: o.id, name: o.name, division, level: levelOf(division) }) };
      }),
    ];
    await this.store.batch(ops, SYNCED);
    return { divisions: file.divisions.length, orgs: file.orgs.length };
  }

  async remove(id: string): Promise<void> {
    const key = ORG_PATTERN.test(id) ? `o|${id}` : `d|${id}`;
    if ((await this.store.get(key)) === undefined) throw new AppError({ code: "NOT_FOUND", message: `no organisation or division ${JSON.stringify(id)}` });
    await this.store.del(key, SYNCED);
  }

  async get(id: string): Promise<Organisation | undefined> {
    const value = await this.store.get(`o|${id}`);
    return value === undefined ? undefined : (JSON.parse(value) as Organisation);
  }

  async names(ids: string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    const values = await this.store.getMany(unique.map((id) => `o|${id}`));
    const map = new Map<string, string>();
    values.forEach((v, i) => v && map.set(unique[i]!, (JSON.parse(v) as Organisation).name));
    return map;
  }

  /** Divisions and organisations inside `within` (all when absent), for trees and pickers. */
  async list(within?: string): Promise<{ divisions: Division[]; orgs: Organisation[] }> {
    if (within !== undefined && !DIVISION_PATTERN.test(within)) {
      throw validationFailed("invalid query", [{ path: ["division"], message: "a 12-digit division code (optionally -G<grid>)" }]);
    }
    const divisions: Division[] = [];
    const orgs: Organisation[] = [];
    for await (const value of this.store.values({ gte: "d|", lt: "d|~" })) {
      const d = JSON.parse(value) as Division;
      if (!within || isWithin(d.code, within)) divisions.push(d);
    }
    for await (const value of this.store.values({ gte: "o|", lt: "o|~" })) {
      const o = JSON.parse(value) as Organisation;
      if (!within || isWithin(o.division, within)) orgs.push(o);
    }
    return { divisions, orgs };
  }
}
