import express, { type Request } from "express";
import { AppError } from "../errors";
import { requireRole } from "../auth/access";
import { principalOf } from "../api/authenticate";
import { parseIndex, parseLimit } from "../api/params";
import { ALERT_KINDS, type AlertKind, type AlertQuery, type AlertStore } from "./alert-store";
import { redactPolicy, SEVERITIES, type Severity } from "./policy";
import { withoutPolicyPath, type PolicySource, type PolicyStatus } from "./policy-source";

/**
 * Alert routes, to mount under /v1 behind `authenticate`:
 * - `GET /alerts?kind=&severity=&acknowledged=true|false&eventIndex=&cursor=&limit=`
 *   → `{ alerts, next }`, newest first, only alerts the key may see; `next` is the
 *   cursor for the following page (null at the end).
 * - `POST /alerts/:id/ack` → the acknowledged alert (admin, regulator, auditor).
 * - `GET /policy` → `{ policy, status }`, webhook secrets redacted, the file's path shown to admins only (admin, auditor, regulator).
 */

export interface AlertRoutesParameters {
  alerts: AlertStore;
  policy: PolicySource;
}

const QUERY_PARAMETERS = new Set(["kind", "severity", "acknowledged", "eventIndex", "cursor", "limit"]);

export function createAlertRoutes({ alerts, policy }: AlertRoutesParameters): express.Router {
  const router = express.Router();

  router.get("/alerts", async (req, res) => {
    const principal = principalOf(req);
    requireRole(principal, "admin", "auditor", "regulator", "submitter");
    const query = parseAlertQuery(req);
    res.json(await alerts.list(principal, query));
  });

  router.post("/alerts/:id/ack", async (req, res) => {
    const principal = principalOf(req);
    requireRole(principal, "admin", "regulator", "auditor");
    res.json(await alerts.acknowledge(String(req.params.id), principal));
  });

  router.get("/policy", (req, res) => {
    const principal = principalOf(req);
    requireRole(principal, "admin", "auditor", "regulator");
    // The operator (admin) configured the path; auditors and regulators have no use for a map of the server.
    const status = principal.role === "admin" ? policy.status() : withoutFilePath(policy.status());
    res.json({ policy: redactPolicy(policy.current()), status });
  });

  return router;
}

/** The status without the policy file's path (withoutPolicyPath). */
function withoutFilePath({ file, ...status }: PolicyStatus): Omit<PolicyStatus, "file"> {
  if (!status.error) return status;
  return { ...status, error: { ...status.error, message: withoutPolicyPath(status.error.message, file) } };
}

function parseAlertQuery(req: Request): AlertQuery {
  const q = req.query as Record<string, unknown>;
  const unknown = Object.keys(q).filter((k) => !QUERY_PARAMETERS.has(k));
  if (unknown.length > 0) throw badRequest(`unknown query parameter${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`);
  for (const [name, value] of Object.entries(q)) if (typeof value !== "string") throw badRequest(`${name} must be given once`);
  return {
    kind: oneOf(q.kind, ALERT_KINDS, "kind") as AlertKind | undefined,
    severity: oneOf(q.severity, SEVERITIES, "severity") as Severity | undefined,
    acknowledged: q.acknowledged === undefined ? undefined : q.acknowledged === "true" ? true : q.acknowledged === "false" ? false : badRequest(`acknowledged must be true or false; got ${JSON.stringify(q.acknowledged)}`),
    eventIndex: q.eventIndex === undefined ? undefined : parseIndex(q.eventIndex, "eventIndex"),
    cursor: q.cursor as string | undefined,
    limit: parseLimit(q.limit, 50, 500),
  };
}

function oneOf(value: unknown, allowed: readonly string[], name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && allowed.includes(value)) return value;
  throw badRequest(`${name} must be one of ${allowed.join(", ")}; got ${JSON.stringify(value)}`);
}

function badRequest(message: string): never {
  throw new AppError({ code: "BAD_REQUEST", message });
}
