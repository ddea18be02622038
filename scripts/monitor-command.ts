/**
 * `ledger monitor`: follows a log from outside, from its C2SP tiles and the chain alone
 * (DESIGN.md, "The open log"). For each checkpoint anchored on chain (walked back from
 * `latest` through `checkpointAt`'s previous sizes) up to the gateway's latest signed note:
 * the note's signature by the trusted noteKey, note root = anchored root, the tiles appended
 * to the last verified tree must give the anchored root (so the new checkpoint extends the
 * old one, by our own hashing), every higher tile hash must be the node computed from below,
 * and with a whole-log key each entry bundle must hash to its tile, envelope by envelope.
 * The verified tree (its frontier) is kept in --state between runs.
 *
 * Exit codes: 0 all verified, 1 a divergence (the first: which size, which tile, expected
 * and found hash) or an untrusted log, 2 a usage or I/O problem.
 */
import type { Command } from "commander";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Contract } from "ethers";
import { connectProvider } from "../server/chain/provider";
import { LEDGER_ABI } from "../server/chain/ledger-abi";
import { frontierNodes } from "../server/merkle";
import { OpenLogError } from "../server/openlog/errors";
import { checkEntryBundle, tilesToFetch, TreeFollower, type UpperTile } from "../server/openlog/follow";
import { envelopeProblem } from "../server/openlog/envelope-shape";
import { openCheckpoint, parseVerifierKey, type CheckpointBody, type NoteVerifier } from "../server/openlog/note";
import { tilePath, type TileId } from "../server/openlog/tiles";
import { readLogListFile } from "../server/receipts/load-log-list";
import { TrustAnchorError, type LogListEntry } from "../server/receipts/trust-anchor";
import { CliError } from "./cli-support";
import { raiseMonitorAlert, readWebhooks } from "./monitor-alerts";

export interface MonitorOptions {
  url: string;
  trust: string;
  rpc: string;
  key?: string;
  state: string;
  /** Which trusted log, when the gateway's origin does not say (its noteKey's name). */
  log?: string;
  json?: boolean;
  /** A gateway policy file (POLICY_FILE's format): a divergence is posted to its webhooks. */
  policy?: string;
}

export interface MonitorIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export type ExitCode = 0 | 1 | 2;

export interface MonitorReport {
  logId: string;
  origin: string;
  treeSize: number;
  rootHash: string;
  checkpoints: number;
  signedNotes: number;
  entries: number;
  /** Anchored on chain, not yet under a signed note of the gateway. */
  pendingOnChain: number;
}

interface SavedState {
  version: 1;
  logId: string;
  chainId: number;
  contract: string;
  treeSize: number;
  rootHash: string;
  frontier: string[];
}

const PROCESS_IO: MonitorIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };
const CONCURRENCY = 8;
// Level-0 tiles fetched and hashed per step: bounds memory on a long catch-up.
const LEAF_TILES_PER_STEP = 256;

export function registerMonitorCommand(program: Command, options: { io?: MonitorIo; exit?: (code: ExitCode) => void } = {}): Command {
  const io = options.io ?? PROCESS_IO;
  const exit = options.exit ?? ((code: ExitCode) => void (process.exitCode = code));
  return program
    .command("monitor")
    .description("follow a log from its C2SP tiles and the chain: signed notes, anchored roots, consistency, entries")
    .requiredOption("--url <url>", "the gateway (env LEDGER_URL)", process.env.LEDGER_URL)
    .requiredOption("--trust <file>", "the trusted log list (JSON, with each log's noteKey)")
    .requiredOption("--rpc <url>", "JSON-RPC endpoint of the log's chain (env LEDGER_RPC_URL)", process.env.LEDGER_RPC_URL)
    .option("--key <key>", "a key whose scope is the whole log (monitor, admin, unscoped auditor): re-hash every entry (env LEDGER_MONITOR_KEY)", process.env.LEDGER_MONITOR_KEY)
    .option("--state <dir>", "where the verified tree is kept between runs", "./monitor-state")
    .option("--log <logId>", "the trusted log to follow (default: the one whose noteKey names the gateway's origin)")
    .option("--policy <file>", "a gateway policy file: post a divergence to its webhooks, signed as the gateway signs its alerts")
    .option("--json", "print the verdict as JSON")
    .action(async (commandOptions: MonitorOptions) => exit(await runMonitor(commandOptions, io)));
}

/** Runs one pass of the monitor; returns the exit code and never throws. */
export async function runMonitor(options: MonitorOptions, io: MonitorIo = PROCESS_IO): Promise<ExitCode> {
  let webhooks: { url: string; secret?: string }[] = [];
  const context: { logId?: string } = {};
  try {
    if (options.policy) webhooks = readWebhooks(options.policy);
    const report = await monitorLog(options, (message) => io.stderr(`ledger monitor: ${message}\n`), context);
    const line = `ok: log ${report.logId} verified from tiles up to ${report.treeSize} leaves, root ${report.rootHash}; ${report.checkpoints} new checkpoint(s) checked against the chain, ${report.signedNotes} signed note(s), ${report.entries} entries re-hashed${report.pendingOnChain ? `; ${report.pendingOnChain} anchored checkpoint(s) not yet published` : ""}`;
    io.stdout(options.json ? JSON.stringify({ ok: true, ...report }) + "\n" : line + "\n");
    return 0;
  } catch (error) {
    if (error instanceof OpenLogError && error.code !== "FETCH_FAILED") {
      const where = [error.treeSize !== undefined ? `at tree size ${error.treeSize}` : "", error.tile ?? ""].filter(Boolean).join(", ");
      const hashes = error.expected ? `: expected ${error.expected}, found ${error.found}` : "";
      const line = `DIVERGENCE ${error.code}${where ? ` ${where}` : ""}${hashes} — ${error.message}`;
      io.stdout(options.json ? JSON.stringify({ ok: false, code: error.code, treeSize: error.treeSize, tile: error.tile, expected: error.expected, found: error.found, message: error.message }) + "\n" : line + "\n");
      if (webhooks.length > 0) for (const problem of await raiseMonitorAlert(webhooks, error, context.logId ?? options.log)) io.stderr(`ledger monitor: ${problem}\n`);
      return 1;
    }
    if (error instanceof CliError) {
      io.stderr(`ledger monitor: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`ledger monitor: ${(error as Error)?.message ?? String(error)}\n`);
    return 2;
  }
}

/** `context.logId` names the log being followed as soon as it is known (for alerts). */
export async function monitorLog(options: MonitorOptions, progress: (message: string) => void, context: { logId?: string } = {}): Promise<MonitorReport> {
  const base = options.url.replace(/\/+$/, "") + "/v1/log/";
  const fetchBytes = (route: string, key?: string) => getBytes(base + route, key);
  let trusted: LogListEntry[];
  try {
    trusted = readLogListFile(options.trust).logs;
  } catch (error) {
    if (error instanceof TrustAnchorError) throw new CliError(error.message, 2);
    throw error;
  }

  // The gateway's latest signed note: which log, and how far the tiles go.
  const latestText = await fetchText(base + "checkpoint");
  if (latestText === undefined) throw new OpenLogError({ code: "NOT_ANCHORED", message: "the gateway has no signed checkpoint yet" });
  const origin = latestText.slice(0, latestText.indexOf("\n"));
  const log = options.log ? trusted.find((l) => l.logId === options.log!.toLowerCase()) : trusted.find((l) => l.noteKey && safeKeyName(l.noteKey) === origin);
  if (!log) throw new OpenLogError({ code: "UNTRUSTED_LOG", message: `no trusted log in ${options.trust} ${options.log ? `has id ${options.log}` : `has a noteKey named ${JSON.stringify(origin)}`}` });
  context.logId = log.logId;
  if (!log.noteKey) throw new OpenLogError({ code: "UNTRUSTED_LOG", message: `the trusted log ${log.logId} has no noteKey in ${options.trust}` });
  const verifier = parseVerifierKey(log.noteKey);
  const latestNote = openCheckpoint(latestText, verifier, verifier.name);

  const provider = connectProvider(options.rpc, { timeoutMs: 15_000 });
  try {
    const chainId = Number((await chainCall(() => provider.send("eth_chainId", []), options.rpc)) as string);
    if (chainId !== log.chainId) throw new OpenLogError({ code: "UNTRUSTED_LOG", message: `${options.rpc} serves chain ${chainId}; the trusted log is on chain ${log.chainId}` });
    const ledger = new Contract(log.contract, LEDGER_ABI, provider);
    const chainKey = ((await chainCall(() => ledger.logNoteKey(log.logId), options.rpc)) as string).toLowerCase();
    const trustedKey = "0x" + Buffer.from(verifier.publicKey).toString("hex");
    if (chainKey !== trustedKey) {
      throw new OpenLogError({ code: "NOTE_KEY_MISMATCH", expected: trustedKey, found: chainKey, message: `the contract holds note key ${chainKey} for log ${log.logId}; the trusted noteKey is ${trustedKey}` });
    }

    const stateFile = path.join(options.state, `${log.logId}.json`);
    const saved = loadState(stateFile, log);
    const follower = new TreeFollower({ size: saved?.treeSize ?? 0, frontier: (saved?.frontier ?? []).map(fromHex) });
    if (saved && saved.treeSize > 0) {
      const root = ((await chainCall(() => ledger.rootAt(log.logId, saved.treeSize), options.rpc)) as string).toLowerCase();
      if (root !== saved.rootHash) throw new OpenLogError({ code: "ROOT_MISMATCH", treeSize: saved.treeSize, expected: saved.rootHash, found: root, message: `the chain no longer holds the verified checkpoint ${saved.treeSize} (${stateFile})` });
    }

    // Anchored checkpoints beyond the verified size, walked back from the latest.
    const [latestSize] = (await chainCall(() => ledger.latest(log.logId), options.rpc)) as [bigint, string];
    const anchored: { treeSize: number; rootHash: string }[] = [];
    for (let size = Number(latestSize); size > follower.state.size; ) {
      const [rootHash, , , previous] = (await chainCall(() => ledger.checkpointAt(log.logId, size), options.rpc)) as [string, bigint, bigint, bigint];
      anchored.unshift({ treeSize: size, rootHash: rootHash.toLowerCase() });
      size = Number(previous);
    }
    const onChainLatest = await chainCall(() => ledger.rootAt(log.logId, latestNote.treeSize), options.rpc) as string;
    checkNoteRoot(latestNote, onChainLatest.toLowerCase());
    const toVerify = anchored.filter((c) => c.treeSize <= latestNote.treeSize);
    progress(`log ${log.logId} (${origin}): verified ${follower.state.size} leaves; ${toVerify.length} new anchored checkpoint(s) to check, up to ${latestNote.treeSize}`);

    let signedNotes = 0;
    let entries = 0;
    for (const checkpoint of toVerify) {
      const text = checkpoint.treeSize === latestNote.treeSize ? latestText : await fetchText(`${base}checkpoint?size=${checkpoint.treeSize}`);
      if (text !== undefined) {
        checkNoteRoot(openCheckpoint(text, verifier, verifier.name), checkpoint.rootHash, checkpoint.treeSize);
        signedNotes++;
      }
      entries += await verifyStep(follower, checkpoint, fetchBytes, options.key, log.logId, progress);
      saveState(stateFile, log, follower, checkpoint.rootHash);
    }
    const state = follower.state;
    return {
      logId: log.logId,
      origin,
      treeSize: state.size,
      rootHash: "0x" + Buffer.from(follower.root()).toString("hex"),
      checkpoints: toVerify.length,
      signedNotes,
      entries,
      pendingOnChain: anchored.length - toVerify.length,
    };
  } finally {
    provider.destroy();
  }
}

/** Tiles from the verified size to `checkpoint`: appended, checked, entries re-hashed. */
async function verifyStep(
  follower: TreeFollower,
  checkpoint: { treeSize: number; rootHash: string },
  fetchBytes: (route: string, key?: string) => Promise<Uint8Array | undefined>,
  key: string | undefined,
  logId: string,
  progress: (message: string) => void,
): Promise<number> {
  const from = follower.state.size;
  const tiles = tilesToFetch(from, checkpoint.treeSize);
  const leafTiles = tiles.filter((t) => t.level === 0);
  const required = async (tile: TileId, withKey?: string) => {
    const bytes = await fetchBytes(tilePath(tile), withKey);
    if (!bytes) throw new OpenLogError({ code: "MALFORMED_TILE", treeSize: checkpoint.treeSize, tile: tilePath(tile), message: `the gateway does not serve ${tilePath(tile)}, which its signed checkpoint ${checkpoint.treeSize} needs` });
    return bytes;
  };
  let entries = 0;
  for (let at = 0; at < leafTiles.length; at += LEAF_TILES_PER_STEP) {
    const step = leafTiles.slice(at, at + LEAF_TILES_PER_STEP);
    const [hashTiles, bundles] = await Promise.all([
      mapLimit(step, CONCURRENCY, (t) => required(t)),
      key ? mapLimit(step, CONCURRENCY, (t) => required({ ...t, level: "entries" }, key)) : Promise.resolve(undefined),
    ]);
    step.forEach((tile, i) => {
      const fromIndex = follower.state.size;
      const leafHashes = follower.appendLeafTile(tile.index, tile.width, hashTiles[i]!);
      if (bundles) {
        entries += checkEntryBundle({ index: tile.index, width: tile.width, bundle: bundles[i]!, leafHashes, fromIndex, treeSize: checkpoint.treeSize, checkEntry: (entry, leafIndex) => envelopeProblem(entry, leafIndex, logId) });
      }
    });
    progress(`${follower.state.size} of ${checkpoint.treeSize} leaves hashed${key ? `, ${entries} entries checked` : ""}`);
  }
  const upper = tiles.filter((t) => t.level !== 0);
  const upperTiles: UpperTile[] = (await mapLimit(upper, CONCURRENCY, (t) => required(t))).map((bytes, i) => ({ level: upper[i]!.level as number, index: upper[i]!.index, width: upper[i]!.width, bytes }));
  const first = leafTiles[0];
  const last = leafTiles[leafTiles.length - 1];
  const span = first && last ? (first === last ? tilePath(first) : `${tilePath(first)} … ${tilePath(last)}`) : "no new leaf tile";
  follower.finish(checkpoint.treeSize, fromHex(checkpoint.rootHash), upperTiles, span);
  return entries;
}

function checkNoteRoot(note: CheckpointBody, anchoredRoot: string, treeSize = note.treeSize): void {
  const noteRoot = "0x" + Buffer.from(note.rootHash).toString("hex");
  if (note.treeSize !== treeSize || noteRoot !== anchoredRoot) {
    throw new OpenLogError({
      code: "NOTE_ROOT_MISMATCH",
      treeSize,
      tile: `checkpoint${note.treeSize === treeSize ? "" : ` (the note says size ${note.treeSize})`}`,
      expected: anchoredRoot,
      found: noteRoot,
      message: /^0x0+$/.test(anchoredRoot) ? `the signed note's size ${treeSize} was never anchored on chain` : `the signed note for ${treeSize} leaves has root ${noteRoot}; the chain anchored ${anchoredRoot}`,
    });
  }
}

function safeKeyName(noteKey: string): string | undefined {
  try {
    return parseVerifierKey(noteKey).name;
  } catch {
    return undefined;
  }
}

function loadState(file: string, log: LogListEntry): SavedState | undefined {
  if (!existsSync(file)) return undefined;
  let state: SavedState;
  try {
    state = JSON.parse(readFileSync(file, "utf8")) as SavedState;
  } catch (error) {
    throw new CliError(`cannot read the monitor state ${file}: ${(error as Error).message}`, 2);
  }
  if (state.version !== 1 || state.logId !== log.logId || state.chainId !== log.chainId || state.contract !== log.contract || state.frontier.length !== frontierNodes(state.treeSize).length) {
    throw new CliError(`${file} is not a monitor state of log ${log.logId} on chain ${log.chainId} at ${log.contract}; move it aside to start over`, 2);
  }
  return state;
}

function saveState(file: string, log: LogListEntry, follower: TreeFollower, rootHash: string): void {
  const { size, frontier } = follower.state;
  const state: SavedState = { version: 1, logId: log.logId, chainId: log.chainId, contract: log.contract, treeSize: size, rootHash, frontier: frontier.map((h) => "0x" + Buffer.from(h).toString("hex")) };
  mkdirSync(path.dirname(file), { recursive: true });
  // Written aside and renamed: a crash never leaves half a state.
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 1) + "\n");
  renameSync(`${file}.tmp`, file);
}

async function getBytes(url: string, key?: string): Promise<Uint8Array | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    throw new OpenLogError({ code: "FETCH_FAILED", message: `cannot fetch ${url}: ${(error as Error).message}` });
  }
  if (response.status === 404) return undefined;
  if (response.status === 401 || response.status === 403) throw new CliError(`${url}: the gateway refused the key (${response.status}); entry bundles need a monitor, admin or unscoped auditor key`, 2);
  if (!response.ok) throw new OpenLogError({ code: "FETCH_FAILED", message: `${url} answered ${response.status}` });
  return new Uint8Array(await response.arrayBuffer());
}

async function fetchText(url: string): Promise<string | undefined> {
  const bytes = await getBytes(url);
  return bytes === undefined ? undefined : Buffer.from(bytes).toString("utf8");
}

async function chainCall<T>(call: () => Promise<T>, rpc: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new CliError(`cannot read the chain at ${rpc}: ${(error as Error).message}`, 2);
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.slice(2), "hex"));
}
