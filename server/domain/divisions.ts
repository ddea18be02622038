/**
 * Administrative divisions and organisation ids.
 *
 * A division is a 12-digit statistical division code (2 digits province, 2 city,
 * 2 county, 3 township/street, 3 village/community; trailing zeros mark a higher
 * level), optionally followed by `-G<id>` for a grid below a village/community.
 * An organisation id is `<division>:<department>`, e.g. `330102003004:civil-affairs`.
 */

export const LEVELS = ["province", "city", "county", "township", "village", "grid"] as const;
export type Level = (typeof LEVELS)[number];

export const DIVISION_PATTERN = /^\d{12}(-G[0-9A-Za-z]{1,16})?$/;
export const DEPARTMENT_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const ORG_PATTERN = /^\d{12}(-G[0-9A-Za-z]{1,16})?:[a-z0-9][a-z0-9._-]{0,63}$/;

/** Significant digits of each level, after which the code is zero-filled. */
const LEVEL_DIGITS: Record<Exclude<Level, "grid">, number> = {
  province: 2,
  city: 4,
  county: 6,
  township: 9,
  village: 12,
};

export function isDivision(value: string): boolean {
  return DIVISION_PATTERN.test(value);
}

export function levelOf(division: string): Level {
  if (!isDivision(division)) throw new TypeError(`not a division code: ${JSON.stringify(division)}`);
  if (division.includes("-G")) return "grid";
  const code = division.slice(0, 12);
  for (const level of ["province", "city", "county", "township"] as const) {
    if (/^0*$/.test(code.slice(LEVEL_DIGITS[level]))) return level;
  }
  return "village";
}

/** The part of a division that identifies it; every division inside it starts with this. */
export function divisionPrefix(division: string): string {
  const level = levelOf(division);
  return level === "grid" ? division : division.slice(0, LEVEL_DIGITS[level]);
}

/** True when `division` lies inside (or is) `jurisdiction`. */
export function isWithin(division: string, jurisdiction: string): boolean {
  if (!isDivision(division)) return false;
  const scope = scopeOf(jurisdiction);
  if (scope === undefined) return false;
  return scope.grid ? division === jurisdiction : division.startsWith(scope.prefix);
}

/**
 * A jurisdiction's prefix, remembered: ingest checks every event against its key's
 * jurisdiction, and working the prefix out each time made about 5% of what the
 * ingest path allocated (sampling heap profile). Jurisdictions are few (one per key); the cache is
 * bounded anyway, since query filters name divisions too.
 */
const scopes = new Map<string, { prefix: string; grid: boolean } | undefined>();
const MAX_SCOPES = 10_000;

function scopeOf(jurisdiction: string): { prefix: string; grid: boolean } | undefined {
  let scope = scopes.get(jurisdiction);
  if (scope === undefined && !scopes.has(jurisdiction)) {
    scope = isDivision(jurisdiction) ? { prefix: divisionPrefix(jurisdiction), grid: levelOf(jurisdiction) === "grid" } : undefined;
    if (scopes.size >= MAX_SCOPES) scopes.clear();
    scopes.set(jurisdiction, scope);
  }
  return scope;
}

export function divisionOfOrg(org: string): string {
  return org.slice(0, org.indexOf(":"));
}

/** True when the organisation's division lies inside `jurisdiction`. */
export function isOrgWithin(org: string, jurisdiction: string): boolean {
  return ORG_PATTERN.test(org) && isWithin(divisionOfOrg(org), jurisdiction);
}
