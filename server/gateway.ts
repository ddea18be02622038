import { mkdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer, type RequestListener, type Server } from "node:http";
import path from "node:path";
import type { JsonRpcProvider, Wallet } from "ethers";
import pino, { type Logger } from "pino";
import { ConfigError, type Config } from "./config";
import type { Hex } from "./hex";
import { sameLog, type LogListEntry, type TrustAnchor } from "./receipts/trust-anchor";
import { openStores, type Database, type Stores } from "./store/database";
import { loadOrCreateLogMeta } from "./store/meta";
import { loadOrCreateSecret } from "./store/secrets";
import { KeyStore } from "./auth/key-store";
import { createDemoKeysOnFirstStart } from "./auth/demo-keys";
import { EventLog } from "./log/event-log";
import { IngestPriority } from "./log/ingest-priority";
import { PreparationPool } from "./ingest/preparation-pool";
import { MerkleTreeStore } from "./merkle";
import { Anchorer } from "./anchor/anchorer";
import { startEmbeddedChain } from "./chain/embedded-chain";
import { connectExternalChain } from "./chain/external-chain";
import { ledgerReader } from "./chain/ledger-reader";
import { cachedChainProbe } from "./chain/chain-probe";
import { checkReadiness } from "./health/readiness";
import type { AnvilNode } from "./chain/anvil";
import type { AnchorDurability } from "./anchor/anchorer";
import { LedgerService } from "./ledger-service";
import { createHttpApp } from "./api/http-app";
import type { RepeatedFailures } from "./api/auth-throttle";
import { EventIndex } from "./query/event-index";
import { EventIndexer } from "./query/event-indexer";
import { OrgRegistry, parseRegistryFile } from "./orgs/org-registry";
import { startAlerts, type Alerts } from "./alerts";
import { AuditJobs, contractAuditChain, createAuditRoutes, gatewayAuditRun } from "./audit";
import { GatewayMetrics, metricsListener, metricsRoute } from "./metrics/gateway-metrics";
import { dumpAnvilState } from "./chain/anvil";
import { writeBackup } from "./backup/backup";
import { serveControlSocket } from "./backup/control-socket";
import { registerNoteKey } from "./chain/note-key";
import { OpenLog, createOpenLogRouter, defaultOrigin, loadNoteSigner, noteVerifierKey, tlogProofOf } from "./openlog";

/**
 * Wires the layers together (HTTP → log → tree → anchor → chain) and owns their
 * lifecycle: `startGateway` opens everything in order and `gateway.stop()`
 * closes it in reverse, so a stop never leaves the database half-written.
 */

export interface Gateway {
  url: string;
  /** GET /metrics without a token, when METRICS_PORT is set. */
  metricsUrl?: string;
  config: Config;
  logId: string;
  chain: { rpcUrl: string; chainId: number; contract: string; embedded: boolean };
  keysFile?: string;
  /** The data directory's databases, open while the gateway runs. */
  stores: Stores;
  log: EventLog;
  tree: MerkleTreeStore;
  anchorer: Anchorer;
  indexer: EventIndexer;
  /** Prepares large batches on a worker thread. */
  preparation: PreparationPool;
  orgs: OrgRegistry;
  alerts: Alerts;
  audits: AuditJobs;
  /** Signed checkpoints and tiles (server/openlog/): `openLog.noteKey` is the log list's `noteKey`. */
  openLog: OpenLog;
  keys: KeyStore;
  logger: Logger;
  stop(): Promise<void>;
}

export interface StartGatewayOptions {
  logger?: Logger;
  onProgress?: (message: string) => void;
}

export async function startGateway(config: Config, options: StartGatewayOptions = {}): Promise<Gateway> {
  const logger =
    options.logger ??
    pino({ level: config.logLevel, redact: { paths: ["req.headers.authorization", "*.key", "*.privateKey", "*.secret"], censor: "[redacted]" } });
  const progress = options.onProgress ?? ((message: string) => logger.info(message));
  mkdirSync(config.dataDir, { recursive: true });

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => logger.error({ err: error }, "error while stopping"));
  };
  try {
    const stores = await openStores(config.dataDir);
    cleanups.push(() => stores.close());
    const { db } = stores;
    const meta = await loadOrCreateLogMeta(db, config.chain?.logId);
    const subjectSecret = loadOrCreateSecret(path.join(config.dataDir, "subject-secret"));
    const keys = await KeyStore.open(db);
    const demoKeys = await createDemoKeysOnFirstStart(keys, config.dataDir, config.logDivision);
    if (demoKeys.created) progress(`created demo API keys in ${demoKeys.file} (local use only)`);
    const keysFile = demoKeys.file;
    const log = await EventLog.open(stores, { logId: meta.logId, onProgress: progress });
    // The tree is derived from the log and refolded from it after any loss, so its appends need
    // no fsync of their own; the anchorer's synced write of an anchor intent flushes them first.
    const tree = await MerkleTreeStore.open(db.sublevel("tree", { keyEncoding: "view", valueEncoding: "view" }) as never, { sync: false });

    const orgs = new OrgRegistry(db);
    if (config.orgsFile) {
      const loaded = await orgs.upsert(parseRegistryFile(readFileSync(config.orgsFile, "utf8"), config.orgsFile.endsWith(".csv") ? "csv" : "json"));
      progress(`loaded ${loaded.orgs} organisations and ${loaded.divisions} divisions from ${config.orgsFile}`);
    }
    const chain = await connectChain(config, meta.logId, progress, (message) => logger.warn(message));
    cleanups.push(chain.close);
    // Acknowledging comes first: indexing, folding and audits wait while submissions stream in, within bounds.
    const priority = new IngestPriority({ maxDeferMs: config.derivedMaxDeferMs, busyCores: config.derivedBusyCores, maxLag: Math.floor(config.ingestMaxBacklog / 2) });
    const chainProbe = cachedChainProbe({ rpcUrl: chain.rpcUrl });
    const origin = config.logOrigin ?? defaultOrigin({ chainId: chain.chainId, contract: chain.contract, logId: meta.logId });
    const noteSigner = loadNoteSigner({ dataDir: config.dataDir, keyFile: config.logNoteKeyFile, origin });
    // Before the anchorer starts, so that its transactions and this one never race for a nonce.
    // A chain that did not answer at start is not waited for again: the next start registers.
    const registration = chain.reachable
      ? await registerNoteKey({ provider: chain.provider, wallet: chain.wallet, contract: chain.contract, logId: meta.logId, publicKey: noteSigner.publicKey, rpcUrl: chain.rpcUrl })
      : { status: "failed" as const, message: `the log's note key is not registered in the contract: the chain did not answer at start; the next start registers it` };
    if (registration.status === "registered") progress(`registered the log's note key in the contract (origin ${origin})`);
    else if ("message" in registration) logger.warn(registration.message);
    // Before anything anchors: a TRUSTED_LOGS entry contradicting this log's identity stops the start.
    const own: LogListEntry = {
      logId: meta.logId.toLowerCase() as Hex,
      chainId: chain.chainId,
      contract: chain.contract.toLowerCase() as Hex,
      name: config.logName,
      division: config.logDivision,
      // The open log's checkpoint key: what `ledger monitor` checks notes with.
      noteKey: noteVerifierKey(noteSigner),
    };
    const trusted: TrustAnchor<LogListEntry> = { logs: [own, ...trustedOthers(own, config)] };
    const audits = await AuditJobs.open({
      db,
      run: gatewayAuditRun({
        stores,
        tree,
        logId: meta.logId,
        chain: contractAuditChain(chain.provider, chain.contract, meta.logId),
        turns: priority.consumer({ catchesUp: false }),
      }),
      minIntervalMs: config.auditMinIntervalMs,
    });
    cleanups.push(() => audits.stop());
    const anchorer = new Anchorer({
      db,
      log,
      tree,
      provider: chain.provider,
      wallet: chain.wallet,
      contractAddress: chain.contract,
      chainId: chain.chainId,
      logId: meta.logId,
      confirmations: config.confirmations,
      maxEvents: config.checkpointMaxEvents,
      maxAgeMs: config.checkpointMaxAgeMs,
      pollMs: config.anchorPollMs,
      maxBackoffMs: config.anchorMaxBackoffMs,
      logger: logger.child({ module: "anchorer" }),
      turns: priority.consumer(),
      durability: chain.durability,
    });
    const alerts = await startAlerts({
      db,
      policyFile: config.policyFile,
      policyPollMs: config.policyPollMs,
      logger,
      anchorer,
      jurisdictionOfKey: (id) => {
        const key = keys.get(id);
        return key?.role === "regulator" ? key.jurisdiction : undefined;
      },
    });
    cleanups.push(() => alerts.stop());
    if (config.policyFile) progress(`negative list and thresholds from ${config.policyFile} (reloaded on change)`);

    const index = new EventIndex(db);
    const indexer = new EventIndexer(log, index, [alerts.observer], logger.child({ module: "indexer" }), undefined, priority.consumer());
    await indexer.start();
    cleanups.push(() => indexer.stop());
    await anchorer.start();
    cleanups.push(() => anchorer.stop());
    const openLog = await OpenLog.start({ db, log, tree, anchorer, signer: noteSigner, origin, logger: logger.child({ module: "openlog" }) });
    cleanups.push(() => openLog.stop());

    // `ledger backup --data-dir` reaches a running gateway here: only this process can read its databases.
    let backingUp = false;
    const control = await serveControlSocket(
      config.dataDir,
      async (request, onProgress) => {
        if (backingUp) throw new Error("a backup is already running");
        backingUp = true;
        try {
          const chainState = chain.embedded ? () => dumpAnvilState(chain.provider) : undefined;
          return await writeBackup({ stores, dataDir: config.dataDir, logId: meta.logId, chainState, onProgress }, request.to);
        } finally {
          backingUp = false;
        }
      },
      (message) => logger.warn(message),
    );
    if (control) cleanups.push(() => control.close());

    const preparation = new PreparationPool({ subjectSecret, minBytes: config.ingestWorkerMinBytes, logger: logger.child({ module: "ingest" }) });
    cleanups.push(() => preparation.close());
    const ledger = new LedgerService({
      log,
      tree,
      anchorer,
      subjectSecret,
      chain: { chainId: chain.chainId, contract: chain.contract, logId: meta.logId, rpcUrl: config.publicRpcUrl ?? chain.rpcUrl },
      logList: { version: 1, logs: [own] },
      trust: trusted,
      reader: ledgerReader(chain.provider),
      index,
      indexer,
      orgs,
      maxBacklog: config.ingestMaxBacklog,
      priority,
      preparation,
      openLogStatus: () => openLog.status(),
    });
    let accepting = true;
    const readiness = () =>
      checkReadiness({
        chain: chainProbe,
        backlog: () => log.size - Math.min(indexer.size, tree.size),
        maxBacklog: config.ingestMaxBacklog,
        closing: () => !accepting || stores.db.status !== "open" || stores.records.status !== "open",
      });
    const authFailures = {
      ...config.authFailures,
      onRepeatedFailures: (report: RepeatedFailures) => {
        // Only ids of real keys: made-up ids would raise alerts without bound.
        const key = keys.get(report.keyId);
        if (key) alerts.repeatedAuthFailures({ ...report, keyName: key.name });
      },
    };
    const openLogRoutes = { router: createOpenLogRouter({ openLog, keys, log, tree, checkpoints: anchorer.checkpoints }), tlogProof: (index: number) => tlogProofOf(openLog, tree, index) };
    const app = createHttpApp({ ledger, keys, orgs, openLog: openLogRoutes, extraRoutes: [alerts.routes, createAuditRoutes({ jobs: audits })], flagsFor: (i, p) => alerts.store.flagsFor(i, p), logger: logger.child({ module: "http" }), bodyLimitBytes: config.bodyLimitBytes, rateLimit: config.rateLimit, authFailures, isReady: () => accepting, readiness, consoleSourceMaps: config.consoleSourceMaps });
    const metrics = new GatewayMetrics({
      dataDir: config.dataDir,
      anchoring: () => anchorer.status(),
      indexedEvents: () => indexer.size,
      log,
      anchorer,
      alerts: alerts.store,
    });
    const metricsHere = metricsRoute(metrics, config.metricsToken);
    const server = await listen(metrics.instrument((req, res) => metricsHere(req, res) || app(req, res)), config.host, config.port);
    cleanups.push(() => closeServer(server));
    let metricsUrl: string | undefined;
    if (config.metricsPort !== undefined) {
      const metricsServer = await listen(metricsListener(metrics), config.host, config.metricsPort);
      cleanups.push(() => closeServer(metricsServer));
      metricsUrl = `http://${config.host}:${(metricsServer.address() as AddressInfo).port}/metrics`;
      progress(`metrics on ${metricsUrl}`);
    }
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.host}:${port}`;

    let stopping: Promise<void> | undefined;
    return {
      url,
      metricsUrl,
      config,
      logId: meta.logId,
      chain: { rpcUrl: chain.rpcUrl, chainId: chain.chainId, contract: chain.contract, embedded: chain.embedded },
      keysFile,
      stores,
      log,
      tree,
      anchorer,
      indexer,
      preparation,
      orgs,
      alerts,
      audits,
      openLog,
      keys,
      logger,
      stop: () => {
        accepting = false;
        stopping ??= cleanUp();
        return stopping;
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/**
 * The TRUSTED_LOGS entries other than this log. One naming this log's id with another
 * contract or chain contradicts the gateway's own identity: refused at start.
 */
function trustedOthers(own: LogListEntry, config: Config): LogListEntry[] {
  const listed = config.trustedLogs?.list.logs ?? [];
  const clash = listed.find((entry) => entry.logId === own.logId && !sameLog(entry, own));
  if (clash) {
    throw new ConfigError([
      `TRUSTED_LOGS: ${config.trustedLogs!.file} lists this gateway's log ${own.logId} at contract ${clash.contract} on chain ${clash.chainId}; it is at ${own.contract} on chain ${own.chainId}`,
    ]);
  }
  return listed.filter((entry) => !sameLog(entry, own));
}

interface ConnectedChain {
  rpcUrl: string;
  provider: JsonRpcProvider;
  wallet: Wallet;
  contract: string;
  chainId: number;
  embedded: boolean;
  /** Whether the chain answered at start (an external chain may not, with CHAIN_ID set). */
  reachable: boolean;
  anvil?: AnvilNode;
  /** The embedded chain's: an anchor is confirmed only once Anvil's state file holds it. */
  durability?: AnchorDurability;
  close: () => Promise<void>;
}

async function connectChain(config: Config, logId: string, progress: (m: string) => void, warn: (m: string) => void): Promise<ConnectedChain> {
  if (!config.chain) {
    progress(`starting the embedded chain (Anvil) with its state in ${path.join(config.dataDir, "chain")}`);
    const embedded = await startEmbeddedChain({
      dataDir: config.dataDir,
      logId,
      logName: config.logName,
      logDivision: config.logDivision,
      port: config.chainPort,
      blockTimeSeconds: config.chainBlockTime,
      onProgress: progress,
      onWarning: warn,
    });
    return {
      rpcUrl: embedded.anvil.rpcUrl,
      provider: embedded.provider,
      wallet: embedded.wallet,
      contract: embedded.contract,
      chainId: embedded.chainId,
      embedded: true,
      reachable: true,
      anvil: embedded.anvil,
      durability: embedded.durability,
      close: async () => {
        embedded.provider.destroy();
        await embedded.anvil.stop();
      },
    };
  }
  const { rpcUrl, contract } = config.chain;
  const external = await connectExternalChain(config.chain, progress);
  return { rpcUrl, provider: external.provider, wallet: external.wallet, contract, chainId: external.chainId, embedded: false, reachable: external.reachable, close: async () => external.provider.destroy() };
}

const KEEP_ALIVE_TIMEOUT_MS = 65_000;

function listen(app: RequestListener, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    // Node's default of 5 s closes an idle keep-alive connection while clients that paused a
    // few seconds reuse it: their next request fails with "socket hang up" (seen with a keep-alive
    // client pausing 6 s). 65 s outlasts the idle timeouts of common clients and load balancers.
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
    server.listen(port, host);
    // Malformed or oversize request lines and headers never reach the app: answer them in JSON too.
    server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      const status = error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      const body = JSON.stringify({ error: { code: status === 431 ? "HEADERS_TOO_LARGE" : "BAD_REQUEST", message: status === 431 ? "request line or headers too large" : "malformed HTTP request" } });
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    server.once("listening", () => resolve(server));
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new Error(`port ${port} on ${host} is in use; set PORT to another port`, { cause: error }) : error),
    );
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}
