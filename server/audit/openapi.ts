/**
 * The audit routes for the gateway's OpenAPI document: spread into its `paths`
 * (`paths: { …, ...auditOpenApiPaths }`).
 */
const job = {
  type: "object",
  required: ["id", "state", "processed", "total", "startedAt"],
  properties: {
    id: { type: "string", format: "uuid" },
    state: { enum: ["running", "done", "failed"] },
    processed: { type: "integer", description: "leaf positions audited so far" },
    total: { type: "integer" },
    eventsPerSecond: { type: "integer" },
    startedAt: { type: "string", format: "date-time" },
    finishedAt: { type: "string", format: "date-time" },
    error: { type: "string", description: "why the audit could not finish (state failed)" },
    report: {
      type: "object",
      description:
        "ok, treeSize, eventsChecked, unfoldedEvents, checkpointsChecked, chainChecked, rootHash, firstDivergence, divergences (the first 25), divergenceCount, startedAt, durationMs, eventsPerSecond. A divergence: kind (leaf-altered | leaf-removed | leaf-reordered | record-corrupt | checkpoint-mismatch | checkpoint-not-anchored | size-mismatch | tree-node-mismatch), index, treeSize, leafRange { first, last }, node { level, index }, expected, actual, message.",
    },
  },
} as const;

const jobAnswer = { content: { "application/json": { schema: { type: "object", properties: { job } } } } };
const error = (description: string) => ({ description });
const errors = { "401": error("No or unknown API key"), "403": error("Needs role admin, auditor or regulator") };

export const auditOpenApiPaths = {
  "/v1/audit": {
    post: {
      summary: "Start a full audit (roles admin, auditor, regulator); while one runs, answers with it",
      description:
        "Recomputes the tree from every stored record, checks every stored tree node, compares each confirmed checkpoint with the recomputed root and with the chain, and reports the first divergence: which leaf was altered, removed or reordered, which checkpoint no longer matches.",
      responses: { "202": { description: "{ job, started }", ...jobAnswer }, ...errors, "429": error("This key started an audit less than AUDIT_MIN_INTERVAL_MS ago; Retry-After says when it may start the next") },
    },
  },
  "/v1/audit/latest": {
    get: {
      summary: "The running audit, else the last finished one (kept across restarts)",
      responses: { "200": { description: "{ job }", ...jobAnswer }, ...errors, "404": error("No audit has run yet") },
    },
  },
  "/v1/audit/{id}": {
    get: {
      summary: "An audit job: progress while running, the report once done",
      parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } }],
      responses: { "200": { description: "{ job }", ...jobAnswer }, "400": error("Not a job id"), ...errors, "404": error("No such job") },
    },
  },
} as const;
