/** The full audit: recompute, compare, report the first divergence; as a job and an HTTP API. */
export { runAudit, AuditError, type RunAuditParameters } from "./audit";
export { LedgerAuditor, inspectRecord, nodesCompletedBy, type CheckpointRoot, type InspectedRecord } from "./auditor";
export { AuditJobs, AuditTooSoonError, gatewayAuditRun, type AuditJob, type AuditJobState, type AuditRun, type AuditJobsParameters } from "./audit-jobs";
export { createAuditRoutes, AUDIT_ROLES, type AuditRoutesParameters } from "./routes";
export {
  contractAuditChain,
  levelAuditLog,
  levelAuditSources,
  levelAuditTree,
  type AuditChain,
  type AuditCheckpoints,
  type AuditLog,
  type AuditTree,
  type RawRecord,
} from "./sources";
export type { AuditProgress, AuditReport, Divergence, DivergenceKind, LeafRange } from "./report";
