import { indexKey } from "../store/database";

/**
 * The alerts module's key layout, in one place. It owns two sublevels:
 *
 * | sublevel    | keys → values                                                           |
 * |-------------|-------------------------------------------------------------------------|
 * | alerts      | a\|<16-hex id> → Alert JSON                                              |
 * |             | e\|<16-hex event index>\|<16-hex id> → "" (the alerts raised on an event)  |
 * |             | o\|<delivery id> → Delivery JSON (webhook outbox, kept after delivery)   |
 * |             | q\|<delivery id> → "" (deliveries still pending)                         |
 * | alert-state | h\|<hour>\|<org>\|<operator> → { count, alerted } (distinct subjects)      |
 * |             | s\|<hour>\|<org>\|<operator>\|<subjectRef> → "" (subjects counted so far)  |
 * |             | d\|<day>\|<org> → { count, alerted } (exports per department-day)          |
 *
 * Ids and indexes are fixed-width hex, so byte order is numeric order; hours
 * (`2024-05-01T09`) and days (`2024-05-01`) come first in the state keys so old
 * buckets are pruned with one range scan. `|` appears in none of the parts (org
 * ids, operator ids, subjectRefs).
 */

export const ALERTS_SUBLEVEL = "alerts";
export const STATE_SUBLEVEL = "alert-state";

export const alertKey = (id: string) => `a|${id}`;
export const ALERT_RANGE = { gte: "a|", lt: "a}" } as const;

export const eventAlertKey = (eventIndex: number, id: string) => `e|${indexKey(eventIndex)}|${id}`;
export const eventAlertRange = (eventIndex: number) => ({ gte: `e|${indexKey(eventIndex)}|`, lt: `e|${indexKey(eventIndex)}}` });
export const idOfEventAlertKey = (key: string) => key.slice(key.lastIndexOf("|") + 1);

export const deliveryKey = (deliveryId: string) => `o|${deliveryId}`;
export const pendingKey = (deliveryId: string) => `q|${deliveryId}`;
export const PENDING_RANGE = { gte: "q|", lt: "q}" } as const;
export const deliveryIdOfPendingKey = (key: string) => key.slice(2);

export const operatorHourKey = (hour: string, org: string, operator: string) => `h|${hour}|${org}|${operator}`;
export const operatorSubjectKey = (hour: string, org: string, operator: string, subjectRef: string) => `s|${hour}|${org}|${operator}|${subjectRef}`;
export const orgDayKey = (day: string, org: string) => `d|${day}|${org}`;

/** Alert ids are fixed-width hex of a counter. */
export const formatAlertId = (n: number) => indexKey(n);
export const ALERT_ID_PATTERN = /^[0-9a-f]{16}$/;
