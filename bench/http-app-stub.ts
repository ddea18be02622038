/**
 * The framework floor for the ingest benchmark: the gateway's own HTTP app
 * (createHttpApp: POST /v1/events on its lean node:http path — helmet, authentication,
 * rate limiting, JSON body parsing — and Express for every other route) with
 * a stub ledger that validates nothing and stores nothing, answering every event at once.
 * The difference between the gateway and this is the ledger's own work per request.
 * Run as a child process by ingest.bench.ts; prints "listening on http://127.0.0.1:PORT".
 */
import pino from "pino";
import { createServer } from "node:http";
import { createHttpApp, type HttpAppParameters } from "../server/api/http-app";

const principal = { id: "0123456789ab", name: "bench", role: "submitter", jurisdiction: "330102000000", createdAt: "2025-01-01T00:00:00.000Z" };
let next = 0;
const ledger = { submit: async (_principal: unknown, events: unknown[]) => events.map(() => ({ index: next++, created: true })) };
const keys = { authenticate: () => principal };

const handler = createHttpApp({
  ledger: ledger as unknown as HttpAppParameters["ledger"],
  keys: keys as unknown as HttpAppParameters["keys"],
  orgs: {} as HttpAppParameters["orgs"],
  logger: pino({ level: "warn" }),
  bodyLimitBytes: 8 * 1024 * 1024,
  rateLimit: { ratePerSecond: 1e9, burst: 1e9 },
  isReady: () => true,
} as HttpAppParameters);
const server = createServer(handler).listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
