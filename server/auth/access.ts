import { AppError } from "../errors";
import { isOrgWithin } from "../domain/divisions";
import type { Envelope } from "../domain/envelope";
import type { Principal, Role } from "./key-store";

/**
 * Who may do what: the rules in one place, as pure functions of the principal
 * and the record, so every route applies the same ones.
 */

export function requireRole(principal: Principal, ...roles: Role[]): void {
  if (!roles.includes(principal.role)) {
    throw new AppError({
      code: "FORBIDDEN",
      message: `this needs a key with role ${roles.join(" or ")}; this key's role is ${principal.role}`,
    });
  }
}

/** May this principal read this stored event (and its receipt)? */
export function canReadEnvelope(principal: Principal, envelope: Envelope): boolean {
  switch (principal.role) {
    case "admin":
    case "auditor":
      return true;
    case "submitter":
      return envelope.submitter === principal.id;
    case "regulator": {
      const jurisdiction = principal.jurisdiction;
      if (!jurisdiction) return false;
      const { actor, recipient } = envelope.event;
      return isOrgWithin(actor.org, jurisdiction) || (recipient !== undefined && isOrgWithin(recipient.org, jurisdiction));
    }
    default:
      return false;
  }
}

/** May this submitter record events for an actor in `org`? */
export function canSubmitFor(principal: Principal, org: string): boolean {
  return principal.role === "submitter" && (principal.jurisdiction === undefined || isOrgWithin(org, principal.jurisdiction));
}
