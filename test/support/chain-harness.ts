/**
 * A chain that outlives the gateways under test, for fault injection: Anvil run by
 * the test (optionally with its state on disk, so it can be killed and started
 * again on the same port), ProvenanceLedger deployed by Anvil's first dev account
 * (admin and log admin), logs registered with fresh anchoring keys, and readers
 * for what the chain holds: every CheckpointAnchored event and every transaction
 * an anchorer ever had mined.
 *
 * Also a JSON-RPC proxy between a gateway and the chain, whose hooks can refuse,
 * delay or act on the chain before a call goes through — faults at exact moments.
 *
 * Nothing is mocked: the chain is the real Anvil and the contract the compiled one.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { Contract, Interface, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { startAnvil, type AnvilNode } from "../../server/chain/anvil";
import { deployLedger } from "../../server/chain/deploy";
import { LEDGER_ABI } from "../../server/chain/ledger-abi";

/** Anvil's first dev account (public knowledge; test chains only). */
export const ANVIL_ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

export const ADMIN_ABI = [
  ...LEDGER_ABI,
  "function pause()",
  "function unpause()",
  "function setAnchorer(bytes32 logId, address anchorer)",
  "function logInfo(bytes32) view returns (address anchorer, string name, string adminCode)",
  "error EnforcedPause()",
  "error ProvenanceLedgerUnauthorizedAnchorer(bytes32 logId, address account)",
  "error ProvenanceLedgerTreeNotGrowing(bytes32 logId, uint256 anchoredSize, uint256 treeSize)",
  "error ProvenanceLedgerInconsistentCheckpoint(bytes32 logId, uint256 anchoredSize, bytes32 anchoredRoot, uint256 treeSize, bytes32 rootHash)",
];
export const ADMIN_IFACE = new Interface(ADMIN_ABI);

export interface RegisteredLog {
  logId: string;
  anchorerKey: string;
  anchorer: string;
}

export interface TestChain {
  rpcUrl: string;
  port: number;
  contract: string;
  deployBlock: number;
  provider: JsonRpcProvider;
  /** Admin of the contract (Anvil's first dev account), nonce-managed. */
  admin: NonceManager;
  ledger: Contract;
  anvil: AnvilNode;
  /** Raw JSON-RPC call (fault-injection methods included). */
  rpc<T = any>(method: string, params?: unknown[]): Promise<T>;
  /** Registers a log with a fresh, funded anchoring key. */
  registerLog(name?: string): Promise<RegisteredLog>;
  /** Kills Anvil (SIGKILL: the last second of state may be lost; SIGTERM: it dumps its state first). */
  kill(signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
  /** Starts Anvil again on the same port, from its state file. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartTestChainOptions {
  /** Keep the chain state in this file (needed for kill + restart). */
  stateFile?: string;
  args?: string[];
}

export async function startTestChain(options: StartTestChainOptions = {}): Promise<TestChain> {
  let anvil = await startAnvil({ stateFile: options.stateFile, args: options.args });
  const port = Number(new URL(anvil.rpcUrl).port);
  const provider = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  const admin = new NonceManager(new Wallet(ANVIL_ADMIN_KEY, provider));
  const deployed = await deployLedger({ deployer: admin });
  const ledger = new Contract(deployed.address, ADMIN_ABI, admin);
  const chain: TestChain = {
    rpcUrl: anvil.rpcUrl,
    port,
    contract: deployed.address,
    deployBlock: deployed.blockNumber,
    provider,
    admin,
    ledger,
    get anvil() {
      return anvil;
    },
    rpc: (method, params = []) => provider.send(method, params),
    async registerLog(name = "reliability test log") {
      const logId = "0x" + randomBytes(32).toString("hex");
      const anchorer = Wallet.createRandom();
      await provider.send("anvil_setBalance", [anchorer.address, "0x" + (10n ** 22n).toString(16)]);
      const tx = await ledger.registerLog(logId, anchorer.address, name, "330102000000");
      await tx.wait();
      return { logId, anchorerKey: anchorer.privateKey, anchorer: anchorer.address };
    },
    async kill(signal = "SIGKILL") {
      const child = anvil.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      // A ref'd timer keeps the event loop alive while waiting (the child itself is unref'd), and bounds the wait.
      let timer: NodeJS.Timeout | undefined;
      const exited = new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      });
      child.kill(signal);
      await exited;
      clearTimeout(timer);
    },
    async restart() {
      anvil = await startAnvil({ stateFile: options.stateFile, port, args: options.args });
      admin.reset();
    },
    async stop() {
      provider.destroy();
      await anvil.stop();
    },
  };
  return chain;
}

/** Environment that points a gateway at `chain` as the anchorer of `log` (external chain mode). */
export function externalChainEnv(rpcUrl: string, contract: string, log: RegisteredLog): Record<string, string> {
  return { RPC_URL: rpcUrl, CONTRACT_ADDRESS: contract, ANCHOR_PRIVATE_KEY: log.anchorerKey, LOG_ID: log.logId, CHAIN_ID: "31337" };
}

export interface AnchoredOnChain {
  treeSize: number;
  rootHash: string;
  previousTreeSize: number;
  blockNumber: number;
  txHash: string;
}

/** Every CheckpointAnchored event of `logId`, oldest first. */
export async function anchoredOnChain(chain: TestChain, logId: string): Promise<AnchoredOnChain[]> {
  const reader = new Contract(chain.contract, LEDGER_ABI, chain.provider);
  const events = await reader.queryFilter(reader.filters.CheckpointAnchored(logId), chain.deployBlock, "latest");
  return events.map((e) => {
    const args = (e as unknown as { args: [string, bigint, string, bigint] }).args;
    return {
      treeSize: Number(args[1]),
      rootHash: args[2].toLowerCase(),
      previousTreeSize: Number(args[3]),
      blockNumber: e.blockNumber,
      txHash: e.transactionHash,
    };
  });
}

export interface MinedTransaction {
  hash: string;
  nonce: number;
  blockNumber: number;
  status: number;
  /** The anchor call's arguments, when the transaction is one. */
  anchor?: { logId: string; treeSize: number; rootHash: string; previousProofLength: number };
}

/** Every transaction `from` ever had mined on the chain (scanning all blocks: test chains only). */
export async function minedTransactionsFrom(chain: TestChain, from: string): Promise<MinedTransaction[]> {
  const head = await chain.provider.getBlockNumber();
  const found: MinedTransaction[] = [];
  const blocks: any[] = [];
  for (let first = 0; first <= head; first += 100) {
    const numbers = Array.from({ length: Math.min(100, head + 1 - first) }, (_, i) => first + i);
    blocks.push(...(await Promise.all(numbers.map((n) => chain.rpc("eth_getBlockByNumber", ["0x" + n.toString(16), true])))));
  }
  for (const block of blocks) {
    for (const tx of (block?.transactions ?? []) as { hash: string; from: string; nonce: string; input: string; to: string }[]) {
      if (tx.from.toLowerCase() !== from.toLowerCase()) continue;
      const receipt = await chain.rpc("eth_getTransactionReceipt", [tx.hash]);
      let anchor: MinedTransaction["anchor"];
      try {
        const parsed = ADMIN_IFACE.parseTransaction({ data: tx.input });
        if (parsed?.name === "anchor") {
          anchor = { logId: String(parsed.args[0]), treeSize: Number(parsed.args[1]), rootHash: String(parsed.args[2]).toLowerCase(), previousProofLength: (parsed.args[3] as unknown[]).length };
        }
      } catch {
        /* not a ProvenanceLedger call */
      }
      found.push({ hash: tx.hash, nonce: Number(tx.nonce), blockNumber: Number(block.number), status: Number(receipt.status), anchor });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------
// A JSON-RPC proxy with hooks
// ---------------------------------------------------------------------------

export interface RpcCall {
  method: string;
  params: unknown[];
}

/**
 * What the proxy does with one call: pass it on (after the hook's own work,
 * e.g. mining a block), refuse the connection outright (like a stopped node),
 * or hold it until `release` resolves.
 */
export type RpcHookResult = void | "refuse" | { holdUntil: Promise<unknown> };

export interface RpcProxy {
  url: string;
  /** Called for every JSON-RPC request before it is forwarded. */
  hook?: (call: RpcCall) => Promise<RpcHookResult> | RpcHookResult;
  /** Methods seen, in order (cleared by the caller as needed). */
  seen: RpcCall[];
  /** While true, every connection is destroyed at once (the chain looks down). */
  down: boolean;
  close(): Promise<void>;
}

export async function startRpcProxy(targetUrl: string): Promise<RpcProxy> {
  const proxy: RpcProxy = {
    url: "",
    seen: [],
    down: false,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (proxy.down) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let calls: RpcCall[] = [];
        try {
          const parsed = JSON.parse(body) as { method: string; params?: unknown[] } | { method: string; params?: unknown[] }[];
          calls = (Array.isArray(parsed) ? parsed : [parsed]).map((c) => ({ method: c.method, params: c.params ?? [] }));
        } catch {
          /* forward as is */
        }
        for (const call of calls) {
          proxy.seen.push(call);
          if (proxy.seen.length > 10_000) proxy.seen.splice(0, 5_000);
          const result = await proxy.hook?.(call);
          if (result === "refuse" || proxy.down) {
            req.socket.destroy();
            return;
          }
          if (result && typeof result === "object") await result.holdUntil;
        }
        try {
          const answer = await fetch(targetUrl, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(10_000) });
          const text = await answer.text();
          res.writeHead(answer.status, { "content-type": "application/json" });
          res.end(text);
        } catch {
          req.socket.destroy();
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
