import { z } from "zod";
import { eventSchema, EVENT_TYPES } from "../domain/event-schema";
import { auditOpenApiPaths } from "../audit/openapi";
import { openLogOpenApiPaths } from "../openlog/openapi";

/** OpenAPI 3.1 description of the gateway API, served at /v1/openapi.json. */

const eventJsonSchema = z.toJSONSchema(eventSchema, { io: "input", unrepresentable: "any" });
delete (eventJsonSchema as Record<string, unknown>).$schema;

const error = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string" }, message: { type: "string" }, details: {} },
    },
  },
};

const hex32 = { type: "string", pattern: "^0x[0-9a-f]{64}$" };
const checkpoint = {
  type: "object",
  properties: {
    treeSize: { type: "integer" },
    rootHash: hex32,
    txHash: hex32,
    blockNumber: { type: "integer" },
    anchoredAt: { type: "string", format: "date-time" },
    confirmedAt: { type: "string", format: "date-time" },
    lost: {
      type: "object",
      description: "Present while the chain no longer holds this confirmed checkpoint: the gateway is anchoring it again (same size and root) and serves no receipt from it meanwhile.",
      properties: { since: { type: "string", format: "date-time" }, chainSize: { type: "integer" } },
    },
  },
};
const receipt = {
  type: "object",
  description: "The receipt of DESIGN.md: verify with RFC 8785 + RFC 9162 + ProvenanceLedger.rootAt on the named chain.",
  required: ["version", "log", "entry", "checkpoint", "inclusionProof"],
  properties: {
    version: { const: 1 },
    log: { type: "object", properties: { id: hex32, chainId: { type: "integer" }, contract: { type: "string" } } },
    entry: { type: "object", properties: { index: { type: "integer" }, envelope: { type: "object" }, leafHash: hex32 } },
    checkpoint: { type: "object", properties: { treeSize: { type: "integer" }, rootHash: hex32, txHash: hex32, blockNumber: { type: "integer" } } },
    inclusionProof: { type: "array", items: hex32 },
  },
};

const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: ERROR_TEXT[c], content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]));
const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input; `details` names each bad field",
  401: "Missing, unknown or revoked API key",
  403: "The key's role or jurisdiction does not allow this",
  404: "Not found (or not visible to this key)",
  409: "requestId reused with a different event",
  413: "Body too large",
  415: "Body is not application/json",
};
const json = (schema: unknown) => ({ content: { "application/json": { schema } } });

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Provenance ledger gateway",
    version: "1",
    description:
      "Records data-sharing and data-access events in an append-only RFC 9162 Merkle log anchored on an EVM chain, and issues receipts that anyone can verify without trusting the gateway.",
  },
  servers: [{ url: "/" }],
  security: [{ apiKey: [] }],
  components: {
    securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "API key `pl_<id>_<secret>`" } },
    schemas: { Event: eventJsonSchema, Error: error, Checkpoint: checkpoint, Receipt: receipt },
  },
  paths: {
    ...auditOpenApiPaths,
    ...openLogOpenApiPaths,
    "/healthz": { get: { security: [], summary: "Liveness", responses: { "200": { description: "ok" }, "503": { description: "starting" } } } },
    "/readyz": {
      get: {
        security: [],
        summary: "Readiness: { ready: true }, or 503 { ready: false, reasons: [{ code, message }] } while the chain does not answer (CHAIN_UNREACHABLE), indexing is over half INGEST_MAX_BACKLOG behind (INDEXING_BEHIND) or the gateway is closing (CLOSING)",
        responses: { "200": { description: "ready", ...json({ type: "object" }) }, "503": { description: "not ready, with the reasons", ...json({ type: "object" }) } },
      },
    },
    "/v1/events": {
      post: {
        summary: "Record one event, or up to 1000 as { events: [...] } (role submitter)",
        description: `Event types: ${EVENT_TYPES.join(", ")}. Answers after the events are durably stored. Idempotent on (key, requestId). The subject is pseudonymised with HMAC-SHA256 before storage.`,
        requestBody: {
          required: true,
          ...json({ oneOf: [{ $ref: "#/components/schemas/Event" }, { type: "object", required: ["events"], properties: { events: { type: "array", maxItems: 1000, items: { $ref: "#/components/schemas/Event" } } } }] }),
        },
        responses: {
          "201": { description: "Stored (leaf index per event)", ...json({ type: "object" }) },
          "200": { description: "All already stored (idempotent repeat)" },
          ...errors(400, 401, 403, 409, 413, 415),
        },
      },
    },
    "/v1/events/{index}": {
      get: {
        summary: "A stored event's envelope (the exact leaf, canonicalised)",
        parameters: [{ name: "index", in: "path", required: true, schema: { type: "integer", minimum: 0 } }],
        responses: { "200": { description: "The envelope" }, ...errors(400, 401, 403, 404) },
      },
    },
    "/v1/receipts/{index}": {
      get: {
        summary: "The receipt of an event, once a checkpoint covering it is anchored and confirmed; ?format=tlog-proof: the c2sp.org/tlog-proof@v1 text against the latest signed checkpoint",
        parameters: [
          { name: "index", in: "path", required: true, schema: { type: "integer", minimum: 0 } },
          { name: "format", in: "query", schema: { enum: ["tlog-proof"] } },
        ],
        responses: {
          "200": { description: "Receipt", ...json({ $ref: "#/components/schemas/Receipt" }) },
          "202": { description: "{ status: pending } until anchored" },
          ...errors(400, 401, 404),
        },
      },
    },
    "/v1/log-list": {
      get: {
        security: [],
        summary: "This log's entry as a log list { version: 1, logs: [{ logId, chainId, contract, name, division }] }, to save as a verifier's trust anchor",
        responses: { "200": { description: "log list" } },
      },
    },
    "/v1/verify": {
      post: {
        summary: "Verify a receipt against the chain; only receipts of this log or of a log in TRUSTED_LOGS can be valid (others: valid false, code UNTRUSTED_LOG)",
        requestBody: { required: true, ...json({ $ref: "#/components/schemas/Receipt" }) },
        responses: {
          "200": { description: "{ valid: true, … } or { valid: false, code, reason }" },
          "503": { description: "The chain could not be reached" },
          ...errors(401, 413, 415),
        },
      },
    },
    "/v1/checkpoints": {
      get: {
        summary: "Anchored checkpoints, newest first (cursor: ?before=<treeSize>)",
        parameters: [
          { name: "before", in: "query", schema: { type: "integer" } },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } },
        ],
        responses: { "200": { description: "{ checkpoints: Checkpoint[], next }" }, ...errors(400, 401, 403) },
      },
    },
    "/v1/checkpoints/latest": {
      get: { summary: "The newest anchored checkpoint", responses: { "200": { description: "Checkpoint", ...json({ $ref: "#/components/schemas/Checkpoint" }) }, ...errors(401, 404) } },
    },
    "/v1/status": { get: { summary: "Log identity and anchoring state", responses: { "200": { description: "status" }, ...errors(401, 403) } } },
    "/v1/keys": {
      get: { summary: "List API keys (admin)", responses: { "200": { description: "keys, without secrets" }, ...errors(401, 403) } },
      post: { summary: "Create an API key (admin); the key is shown once", responses: { "201": { description: "{ key, record }" }, ...errors(400, 401, 403) } },
    },
    "/v1/keys/{id}": { delete: { summary: "Revoke an API key (admin)", responses: { "200": { description: "revoked" }, ...errors(401, 403, 404) } } },
  },
} as const;
