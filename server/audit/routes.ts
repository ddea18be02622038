import express from "express";
import { principalOf } from "../api/authenticate";
import { requireRole } from "../auth/access";
import type { Role } from "../auth/key-store";
import { AppError } from "../errors";
import { AuditTooSoonError, type AuditJobs } from "./audit-jobs";

/**
 * The audit API, mounted under /v1 (after authentication):
 * - `POST /audit` starts a full audit (or returns the one running, whoever started it):
 *   202 `{ job, started }`; 429 with Retry-After when this key started one less than
 *   the minimum interval ago (AuditJobs);
 * - `GET /audit/latest`: the running or last finished job, `{ job }`;
 * - `GET /audit/:id`: one job, `{ job }`, with `report` once done.
 * Full audits are for admins, auditors and regulators.
 */

export const AUDIT_ROLES: readonly Role[] = ["admin", "auditor", "regulator"];

export interface AuditRoutesParameters {
  jobs: Pick<AuditJobs, "start" | "get" | "latest">;
}

const JOB_ID = /^[0-9a-f-]{36}$/;

export function createAuditRoutes({ jobs }: AuditRoutesParameters): express.Router {
  const router = express.Router();

  router.post("/audit", (req, res) => {
    const principal = principalOf(req);
    requireRole(principal, ...AUDIT_ROLES);
    let answer: ReturnType<typeof jobs.start>;
    try {
      answer = jobs.start(principal.id);
    } catch (error) {
      if (error instanceof AuditTooSoonError) res.setHeader("Retry-After", String(error.retryAfterSeconds));
      throw error;
    }
    const { job, started } = answer;
    res.status(202).location(`${req.baseUrl}/audit/${job.id}`).json({ job, started });
  });

  router.get("/audit/latest", (req, res) => {
    requireRole(principalOf(req), ...AUDIT_ROLES);
    const job = jobs.latest();
    if (!job) throw new AppError({ code: "NOT_FOUND", message: "no audit has been run yet; start one with POST /v1/audit" });
    res.json({ job });
  });

  router.get("/audit/:id", (req, res) => {
    requireRole(principalOf(req), ...AUDIT_ROLES);
    const id = String(req.params.id);
    if (!JOB_ID.test(id)) throw new AppError({ code: "BAD_REQUEST", message: `not an audit job id: ${JSON.stringify(id.slice(0, 64))}` });
    const job = jobs.get(id);
    if (!job) throw new AppError({ code: "NOT_FOUND", message: `no audit job ${id} (jobs are kept in memory; the last finished one also across restarts)` });
    res.json({ job });
  });

  return router;
}
