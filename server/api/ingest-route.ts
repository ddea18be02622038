import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { Logger } from "pino";
import type { Principal } from "../auth/key-store";
import type { LedgerService } from "../ledger-service";
import type { Authenticator } from "./authenticate";
import { errorAnswer } from "./error-handler";
import { refuseNonJsonBody } from "./json-content-type";
import { BodyBytesKept, bodyBytesOf, refuseNonText } from "./json-input";
import { takeToken, type TokenBuckets } from "./rate-limit";
import { logWhenAnswered } from "./request-log";
import { batchAnswer, submitEvents } from "./submit-events";

/**
 * POST /v1/events on plain node:http: Express's router and its request and
 * response wrappers cost several times what the rest of a single-event post does.
 * The steps are those of the Express chain for this route, in its order —
 * security headers, request log, key, rate limit, content type, body parser,
 * text rules, route — and each is the very function that chain calls, so the two
 * answer alike, errors included (one `errorAnswer` for both). One step more: a
 * large batch is not parsed by the body parser but handed, as bytes, to the pool that
 * prepares batches (LedgerService.submitBatchBody: on its worker thread when it has
 * room); only if that cannot store it are the bytes parsed here, by the same parser,
 * and the chain goes on as usual.
 */

/** A Connect-style middleware on plain node objects, as `helmet()` and `express.json()` are. */
export type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

export interface IngestRouteParameters {
  ledger: LedgerService;
  /** The app's authentication (with its throttle of failures). */
  authenticate: Authenticator;
  /** The app's buckets: one budget per key across every route. */
  buckets: TokenBuckets;
  /** The app's `helmet()`. */
  securityHeaders: NodeMiddleware;
  /** The app's `express.json()`: the same limit, charset and encoding rules, and errors. */
  parseJson: NodeMiddleware;
  /** `parseJson` keeping a large batch's bytes unparsed instead (keepBodyBytesWhen). */
  parseOrKeepJson: NodeMiddleware;
  logger: Logger;
}

export const INGEST_PATH = "/v1/events";

export function ingestRoute({ ledger, authenticate, buckets, securityHeaders, parseJson, parseOrKeepJson, logger }: IngestRouteParameters): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let principal: Principal | undefined;
    const handle = async () => {
      await run(securityHeaders, req, res);
      logWhenAnswered(logger, res, () => ({ method: req.method, path: INGEST_PATH, key: principal?.id }));
      principal = authenticate(req, res);
      takeToken(buckets, principal.id, res);
      refuseNonJsonBody(req.headers);
      try {
        await run(parseOrKeepJson, req, res);
      } catch (error) {
        if (!(error instanceof BodyBytesKept)) throw error;
        // A large batch: prepared by the pool (off this thread when it can), unless it is not all valid or not this
        // key's to submit, and then parsed here after all, with the parser's own answers to bad JSON.
        const bytes = bodyBytesOf(req)!;
        const results = await ledger.submitBatchBody(principal, bytes);
        if (results) {
          const answer = batchAnswer(results);
          sendJson(res, answer.status, answer.body);
          return;
        }
        await parseKeptBytes(parseJson, req, res, bytes);
      }
      const body = (req as { body?: unknown }).body;
      refuseNonText(body);
      const answer = await submitEvents(ledger, principal, body);
      sendJson(res, answer.status, answer.body);
    };
    handle().catch((error: unknown) => {
      const answer = errorAnswer(error, logger, { method: req.method, path: INGEST_PATH });
      if (!res.headersSent) sendJson(res, answer.status, answer.body, answer.headers);
    });
  };
}

/**
 * Parses bytes kept by keepBodyBytesWhen with `parseJson` itself — fed to it as the
 * request it would have read (already decompressed) — so that every outcome, errors
 * included, is the parser's own; sets `req.body`.
 */
async function parseKeptBytes(parseJson: NodeMiddleware, req: IncomingMessage, res: ServerResponse, bytes: Buffer): Promise<void> {
  const headers: IncomingHttpHeaders = { ...req.headers, "content-length": String(bytes.length) };
  delete headers["content-encoding"];
  delete headers["transfer-encoding"];
  const replay = Object.assign(Readable.from([bytes]), { headers, method: req.method, url: req.url }) as unknown as IncomingMessage;
  await run(parseJson, replay, res);
  (req as { body?: unknown }).body = (replay as { body?: unknown }).body;
}

function run(middleware: NodeMiddleware, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => middleware(req, res, (error) => (error ? reject(error) : resolve())));
}

/** What Express's `res.status(status).json(body)` sends, less its ETag (a hash of the answer to a POST, which no client revalidates). */
function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}
