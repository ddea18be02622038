import { z } from "zod";
import { AppError, validationFailed } from "../errors";
import type { Principal } from "../auth/key-store";
import { divisionOfOrg, isOrgWithin, levelOf, LEVELS, type Level } from "../domain/divisions";
import type { EventIndex } from "./event-index";

/**
 * Dashboard statistics from the indexer's counters (day × actor org × type):
 * counts per administrative level, department, type and day. Counted by the
 * actor's organisation; a regulator sees the counts of actors inside its
 * jurisdiction, an auditor bound to organisations those organisations'.
 */

export const statisticsQuerySchema = z.strictObject({
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
  division: z.string().regex(/^\d{12}(-G[0-9A-Za-z]{1,16})?$/).optional(),
});

export interface Statistics {
  from: string;
  to: string;
  total: number;
  byLevel: Record<Level, number>;
  byDepartment: Record<string, number>;
  byType: Record<string, number>;
  byDay: Record<string, number>;
}

export async function computeStatistics(index: EventIndex, principal: Principal, raw: unknown, today = new Date()): Promise<Statistics> {
  const parsed = statisticsQuerySchema.safeParse(raw);
  if (!parsed.success) {
    throw validationFailed("invalid query", parsed.error.issues);
  }
  if (principal.role === "auditor" && principal.datasets) {
    // The counters are per organisation, not per dataset: they would show other datasets' activity.
    throw new AppError({ code: "FORBIDDEN", message: "statistics are not available to keys bound to datasets" });
  }
  const to = parsed.data.to ?? today.toISOString().slice(0, 10);
  const from = parsed.data.from ?? new Date(Date.parse(to) - 29 * 86_400_000).toISOString().slice(0, 10);
  if (from > to) throw new AppError({ code: "VALIDATION_FAILED", message: "from is after to" });
  const stats: Statistics = {
    from,
    to,
    total: 0,
    byLevel: Object.fromEntries(LEVELS.map((l) => [l, 0])) as Record<Level, number>,
    byDepartment: {},
    byType: {},
    byDay: {},
  };
  const visible = (org: string) =>
    (principal.role !== "regulator" || isOrgWithin(org, principal.jurisdiction!)) &&
    (principal.role !== "auditor" || !principal.orgs || principal.orgs.includes(org)) &&
    (parsed.data.division === undefined || isOrgWithin(org, parsed.data.division));
  for await (const { day, org, type, count } of index.countersBetween(from, to)) {
    if (!visible(org)) continue;
    stats.total += count;
    stats.byLevel[levelOf(divisionOfOrg(org))] += count;
    stats.byDepartment[org] = (stats.byDepartment[org] ?? 0) + count;
    stats.byType[type] = (stats.byType[type] ?? 0) + count;
    stats.byDay[day] = (stats.byDay[day] ?? 0) + count;
  }
  return stats;
}
