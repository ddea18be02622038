import { AppError } from "../errors";
import { isOrgWithin } from "../domain/divisions";
import type { Envelope } from "../domain/envelope";
import type { Principal, Role } from "./key-store";

/**
 * Who may do what: the rules in one place, as pure functions of the principal
 * and the record, so every route (events, receipts, queries, alerts, stats)
 * applies the same ones.
 */

export function requireRole(principal: Principal, ...roles: Role[]): void {
  if (!roles.includes(principal.role)) {
    throw new AppError({
      code: "FORBIDDEN",
      message: `this needs a key with role ${roles.join(" or ")}; this key's role is ${principal.role}`,
    });
  }
}

/** What visibility depends on: who acted, who received, which dataset, which key submitted. */
export interface Visibility {
  actorOrg: string;
  recipientOrg?: string;
  dataset: string;
  submitter?: string;
}

export function visibilityOf(envelope: Envelope): Visibility {
  return {
    actorOrg: envelope.event.actor.org,
    recipientOrg: envelope.event.recipient?.org,
    dataset: envelope.event.dataset,
    submitter: envelope.submitter,
  };
}

/**
 * May this principal see an event (or an alert about one) with these facts?
 * Regulators: actor or recipient inside their jurisdiction. Auditors: all, or
 * only their datasets / organisations. Submitters: what they submitted.
 */
export function canSee(principal: Principal, v: Visibility): boolean {
  switch (principal.role) {
    case "admin":
      return true;
    case "auditor":
      if (principal.datasets && !principal.datasets.includes(v.dataset)) return false;
      if (principal.orgs && !principal.orgs.includes(v.actorOrg) && !(v.recipientOrg && principal.orgs.includes(v.recipientOrg))) return false;
      return true;
    case "submitter":
      return v.submitter !== undefined && v.submitter === principal.id;
    case "regulator": {
      const jurisdiction = principal.jurisdiction;
      if (!jurisdiction) return false;
      return isOrgWithin(v.actorOrg, jurisdiction) || (v.recipientOrg !== undefined && isOrgWithin(v.recipientOrg, jurisdiction));
    }
    default:
      return false;
  }
}

/** May this principal read this stored event (and its receipt)? */
export function canReadEnvelope(principal: Principal, envelope: Envelope): boolean {
  return canSee(principal, visibilityOf(envelope));
}

/** May this submitter record events for an actor in `org`? */
export function canSubmitFor(principal: Principal, org: string): boolean {
  return principal.role === "submitter" && (principal.jurisdiction === undefined || isOrgWithin(org, principal.jurisdiction));
}
