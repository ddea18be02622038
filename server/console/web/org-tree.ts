/**
 * The organisation tree by administrative level, from the registry's divisions
 * and organisations (GET /v1/orgs). The hierarchy is in the division codes
 * (server/domain/divisions.ts): a level the registry does not name is still
 * placed, under its code.
 */
import { LEVELS, levelOf, type Level } from "../../domain/divisions";

export interface RegistryOrg {
  id: string;
  name: string;
  division: string;
  level: Level;
}

export interface RegistryDivision {
  code: string;
  name: string;
  level: Level;
}

export interface DivisionNode {
  code: string;
  name?: string;
  level: Level;
  divisions: DivisionNode[];
  orgs: RegistryOrg[];
}

/** Significant digits per level above the grid (province 2, city 4, county 6, township 9, village 12). */
const DIGITS: Record<Exclude<Level, "grid">, number> = { province: 2, city: 4, county: 6, township: 9, village: 12 };

/** The division directly above `code`, or undefined for a province. */
export function parentDivision(code: string): string | undefined {
  const level = levelOf(code);
  if (level === "grid") return code.slice(0, 12);
  if (level === "province") return undefined;
  const parentLevel = LEVELS[LEVELS.indexOf(level) - 1] as Exclude<Level, "grid">;
  return code.slice(0, DIGITS[parentLevel]).padEnd(12, "0");
}

/** Roots of the tree (usually provinces), children in code order, organisations by name. */
export function buildOrgTree(divisions: RegistryDivision[], orgs: RegistryOrg[]): DivisionNode[] {
  const nodes = new Map<string, DivisionNode>();
  const names = new Map(divisions.map((d) => [d.code, d.name]));
  const node = (code: string): DivisionNode => {
    let found = nodes.get(code);
    if (!found) {
      found = { code, name: names.get(code), level: levelOf(code), divisions: [], orgs: [] };
      nodes.set(code, found);
      const parent = parentDivision(code);
      if (parent !== undefined) node(parent).divisions.push(found);
    }
    return found;
  };
  for (const division of divisions) node(division.code);
  for (const org of orgs) node(org.division).orgs.push(org);
  const sort = (list: DivisionNode[]) => {
    list.sort((a, b) => a.code.localeCompare(b.code));
    for (const n of list) {
      sort(n.divisions);
      n.orgs.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    }
  };
  const roots = [...nodes.values()].filter((n) => parentDivision(n.code) === undefined);
  sort(roots);
  return roots;
}

export interface DivisionGroup {
  code: string;
  level: Level;
  /** Names (or codes) from the root down to this division. */
  path: string[];
  orgs: RegistryOrg[];
}

/** The tree depth-first, one group per division: for a picker with one option group per division, labelled by its path. */
export function divisionGroups(roots: DivisionNode[]): DivisionGroup[] {
  const groups: DivisionGroup[] = [];
  const walk = (n: DivisionNode, above: string[]) => {
    const path = [...above, n.name ?? n.code];
    groups.push({ code: n.code, level: n.level, path, orgs: n.orgs });
    for (const child of n.divisions) walk(child, path);
  };
  for (const root of roots) walk(root, []);
  return groups;
}
