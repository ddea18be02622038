import type { RequestListener } from "node:http";
import express from "express";
import helmet from "helmet";
import { z } from "zod";
import type { Logger } from "pino";
import { AppError, validationFailed } from "../errors";
import type { KeyStore } from "../auth/key-store";
import { requireRole } from "../auth/access";
import type { LedgerService } from "../ledger-service";
import { ROLES, type Principal } from "../auth/key-store";
import { authenticate, authenticator, principalOf } from "./authenticate";
import { AuthThrottle, type RepeatedFailures } from "./auth-throttle";
import { errorHandler } from "./error-handler";
import { parseIndex, parseLimit } from "./params";
import { openApiDocument } from "./openapi";
import { rateLimitPerKey, tokenBuckets } from "./rate-limit";
import { keepBodyBytesWhen, refuseInvalidUtf8, requireTextJson } from "./json-input";
import { requireJsonBody } from "./json-content-type";
import { requestLog } from "./request-log";
import { submitEvents } from "./submit-events";
import { INGEST_PATH, ingestRoute } from "./ingest-route";
import type { OrgRegistry } from "../orgs/org-registry";
import { parseRegistry } from "../orgs/org-registry";
import { createConsoleRouter } from "../console";
import type { Readiness } from "../health/readiness";

/**
 * The HTTP API: thin routes that parse, call the ledger service, answer. All
 * errors go through `errorAnswer`; every /v1 route needs an API key.
 *
 * The answer is a node:http request listener. POST /v1/events, the hot path of
 * ingest, goes to `ingestRoute` on plain node:http; every other request goes to
 * the Express app, which still routes POST /v1/events spelt otherwise (a trailing
 * slash, capitals) to the same route logic (`submitEvents`).
 */

export interface HttpAppParameters {
  ledger: LedgerService;
  keys: KeyStore;
  orgs: OrgRegistry;
  /** Alerts raised about an event, as the principal may see them (GET /v1/events/:index shows them). */
  flagsFor?: (index: number, principal: Principal) => Promise<unknown[]>;
  /** The open log (server/openlog/): its router, mounted at /v1/log before authentication, and tlog-proof receipts. */
  openLog?: { router: express.Router; tlogProof(index: number): Promise<string | undefined> };
  /** Routers of other modules (alerts, audit), mounted under /v1 after authentication. */
  extraRoutes?: express.Router[];
  logger: Logger;
  bodyLimitBytes: number;
  rateLimit: { ratePerSecond: number; burst: number };
  /** Liveness: false once the gateway is stopping (GET /healthz). */
  /** Failed authentications throttled per client address and key id (none when omitted). */
  authFailures?: { maxFailures: number; windowMs: number; onRepeatedFailures?: (report: RepeatedFailures) => void };
  isReady: () => boolean;
  /** Readiness (GET /readyz); without it, only whether the gateway is stopping. */
  readiness?: () => Promise<Readiness>;
  /** Serve the console's source map (CONSOLE_SOURCE_MAPS; development only). */
  consoleSourceMaps?: boolean;
}

export function createHttpApp({ ledger, keys, orgs, openLog, extraRoutes = [], flagsFor, logger, bodyLimitBytes, rateLimit, authFailures, isReady, readiness, consoleSourceMaps = false }: HttpAppParameters): RequestListener {
  // Shared by both paths: one set of security headers, one body parser, one budget per key.
  const securityHeaders = helmet();
  const parseJson = express.json({ limit: bodyLimitBytes, strict: false, type: () => true, verify: refuseInvalidUtf8 });
  // The ingest path's: the same, but a large batch is kept as bytes for the preparation pool (LedgerService.submitBatchBody).
  const parseOrKeepJson = express.json({ limit: bodyLimitBytes, strict: false, type: () => true, verify: keepBodyBytesWhen((n) => ledger.takesBatchBody?.(n) ?? false) });
  const buckets = tokenBuckets(rateLimit);
  const authenticateRequest = authenticator(keys, authFailures && new AuthThrottle(authFailures));

  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(securityHeaders);
  app.use(requestLog(logger));

  app.get("/healthz", (_req, res) => {
    const ready = isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? "ok" : "starting" });
  });
  // Public, like /healthz: whether to send this gateway traffic, and if not, why (server/health/readiness.ts).
  app.get("/readyz", async (_req, res) => {
    const answer: Readiness = readiness ? await readiness() : isReady() ? { ready: true } : { ready: false, reasons: [{ code: "CLOSING", message: "the gateway is shutting down" }] };
    res.setHeader("Cache-Control", "no-store");
    res.status(answer.ready ? 200 : 503).json(answer);
  });
  app.get("/v1/openapi.json", (_req, res) => res.json(openApiDocument));
  // Public, like the receipts' chain: a verifier needs it before it has any key.
  app.get("/v1/log-list", (_req, res) => res.json(ledger.logList));
  app.use("/console", createConsoleRouter({ sourceMaps: consoleSourceMaps }));
  // Public, like a static tile server: the router checks keys itself where content is not public (entry bundles).
  if (openLog) app.use("/v1/log", openLog.router);

  const v1 = express.Router();
  v1.use(authenticate(authenticateRequest));
  v1.use(rateLimitPerKey(buckets));
  v1.use(requireJsonBody);
  v1.use(parseJson);
  v1.use(requireTextJson);

  v1.post("/events", async (req, res) => {
    const answer = await submitEvents(ledger, principalOf(req), req.body);
    res.status(answer.status).json(answer.body);
  });

  v1.get("/events", async (req, res) => {
    const page = await ledger.events(principalOf(req), req.query);
    res.json({ events: page.events.map((r) => ({ index: r.index, envelope: r.envelope })), next: page.next });
  });

  v1.get("/events/:index", async (req, res) => {
    const principal = principalOf(req);
    const record = await ledger.readEvent(principal, parseIndex(req.params.index));
    res.json({ index: record.index, envelope: record.envelope, ...(flagsFor ? { flags: await flagsFor(record.index, principal) } : {}) });
  });

  v1.get("/receipts/:index", async (req, res) => {
    if (req.query.format === "tlog-proof" && openLog) {
      // Access as for the JSON receipt; then the proof against the latest signed checkpoint.
      const record = await ledger.readEvent(principalOf(req), parseIndex(req.params.index));
      const proof = await openLog.tlogProof(record.index);
      if (proof === undefined) res.status(202).json({ status: "pending", index: record.index });
      else res.type("text/plain; charset=utf-8").send(proof);
      return;
    }
    const answer = await ledger.receipt(principalOf(req), parseIndex(req.params.index));
    if (answer.status === "pending") res.status(202).json(answer);
    else res.json(answer.receipt);
  });

  v1.post("/verify", async (req, res) => {
    try {
      const verified = await ledger.verify(principalOf(req), req.body);
      res.json({ valid: true, index: verified.receipt.entry.index, treeSize: verified.receipt.checkpoint.treeSize, rootHash: verified.rootHash, chainId: verified.chainId });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (error instanceof Error && error.name === "ReceiptError") {
        // A receipt that does not verify is an answer, not a failed request — except when we could not ask the chain.
        res.status(code === "CHAIN_UNREACHABLE" ? 503 : 200).json({ valid: false, code, reason: error.message });
        return;
      }
      throw error;
    }
  });

  v1.get("/checkpoints", async (req, res) => {
    const before = req.query.before === undefined ? undefined : parseIndex(req.query.before, "before");
    const limit = parseLimit(req.query.limit, 100, 1000);
    const checkpoints = await ledger.checkpoints(principalOf(req), { beforeSize: before, limit });
    const last = checkpoints[checkpoints.length - 1];
    res.json({ checkpoints, next: checkpoints.length === limit && last ? `?before=${last.treeSize}&limit=${limit}` : null });
  });

  v1.get("/checkpoints/latest", async (req, res) => {
    const checkpoint = await ledger.latestCheckpoint(principalOf(req));
    if (!checkpoint) throw new AppError({ code: "NOT_FOUND", message: "no checkpoint has been anchored yet" });
    res.json(checkpoint);
  });

  v1.get("/stats", async (req, res) => {
    res.json(await ledger.statistics(principalOf(req), req.query));
  });

  v1.get("/stats/anchoring", async (req, res) => {
    res.json(await ledger.anchoringHistory(principalOf(req), parseLimit(req.query.limit, 50, 1000)));
  });

  // The subject id is taken from the query or the body; neither is ever logged.
  v1.get("/subjects/accesses", async (req, res) => {
    res.json(await ledger.subjectAccesses(principalOf(req), req.query));
  });
  v1.post("/subjects/accesses", async (req, res) => {
    res.json(await ledger.subjectAccesses(principalOf(req), req.body));
  });

  v1.get("/orgs", async (req, res) => {
    const principal = principalOf(req);
    requireRole(principal, "admin", "auditor", "regulator", "submitter");
    const within = typeof req.query.division === "string" ? req.query.division : undefined;
    res.json(await orgs.list(within));
  });

  v1.put("/orgs", async (req, res) => {
    requireRole(principalOf(req), "admin");
    res.json(await orgs.upsert(parseRegistry(req.body)));
  });

  v1.delete("/orgs/:id", async (req, res) => {
    requireRole(principalOf(req), "admin");
    await orgs.remove(String(req.params.id));
    res.status(204).end();
  });

  v1.get("/status", (req, res) => {
    res.json(ledger.status(principalOf(req)));
  });

  // The signed-in key's own record (no hash): any role may ask, so the console can show what the key covers.
  v1.get("/whoami", (req, res) => {
    const { id, name, role, jurisdiction, datasets, orgs: scopedOrgs, createdAt } = principalOf(req);
    res.json({ key: { id, name, role, jurisdiction, datasets, orgs: scopedOrgs, createdAt } });
  });

  v1.get("/keys", (req, res) => {
    requireRole(principalOf(req), "admin");
    res.json({ keys: keys.list() });
  });

  v1.post("/keys", async (req, res) => {
    requireRole(principalOf(req), "admin");
    const parsed = createKeySchema.safeParse(req.body);
    if (!parsed.success) {
      throw validationFailed("body must be { name, role, jurisdiction?, datasets?, orgs? }", parsed.error.issues);
    }
    const created = await keys.create(parsed.data);
    res.status(201).json(created);
  });

  v1.delete("/keys/:id", async (req, res) => {
    requireRole(principalOf(req), "admin");
    res.json(await keys.revoke(String(req.params.id)));
  });

  for (const router of extraRoutes) v1.use(router);
  app.use("/v1", v1);
  app.use((req, _res, next) => next(new AppError({ code: "NOT_FOUND", message: `no route ${req.method} ${req.path}` })));
  app.use(errorHandler(logger));

  const ingest = ingestRoute({ ledger, authenticate: authenticateRequest, buckets, securityHeaders, parseJson, parseOrKeepJson, logger });
  return (req, res) => (req.method === "POST" && pathOf(req.url) === INGEST_PATH ? ingest(req, res) : app(req, res));
}

/** The path of a request target, without its query; what Express routes on for an origin-form target. */
function pathOf(url = ""): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

const createKeySchema = z.strictObject({
  name: z.string().min(1).max(128),
  role: z.enum(ROLES),
  jurisdiction: z.string().optional(),
  datasets: z.array(z.string()).min(1).max(100).optional(),
  orgs: z.array(z.string()).min(1).max(100).optional(),
});
