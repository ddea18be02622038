import { NonceManager, Wallet, type JsonRpcProvider } from "ethers";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { startAnvil, type AnvilNode } from "./anvil";
import { AnvilStateWitness, restoreTornState } from "./anvil-state";
import { superviseAnvil } from "./anvil-supervisor";
import { connectProvider } from "./provider";
import { deployLedger, registerLog } from "./deploy";

/**
 * The default chain of `npm start`: Anvil with its state under DATA_DIR/chain,
 * the contract deployed once, this gateway's log registered once. The anchoring
 * key is generated on first start and kept beside the chain state (mode 0600).
 * Anvil is started again if it dies; an anchor counts as confirmed only once its
 * state file holds it (server/chain/anvil-state.ts).
 */

export const EMBEDDED_CHAIN_ID = 31337;

export interface EmbeddedChain {
  anvil: AnvilNode;
  provider: JsonRpcProvider;
  wallet: Wallet;
  contract: string;
  chainId: number;
  /** Whether the state file holds a mined transaction: the anchorer's durability check. */
  durability: AnvilStateWitness;
}

interface Deployment {
  chainId: number;
  contract: string;
  blockNumber: number;
  logId: string;
}

export interface StartEmbeddedChainParameters {
  dataDir: string;
  logId: string;
  logName: string;
  logDivision: string;
  port?: number;
  /** Seconds between blocks; without it a block is mined per transaction (needs CONFIRMATIONS 1). */
  blockTimeSeconds?: number;
  onProgress?: (message: string) => void;
  /** Anvil died and is being started again, or its state file was restored. */
  onWarning?: (message: string) => void;
}

export async function startEmbeddedChain(p: StartEmbeddedChainParameters): Promise<EmbeddedChain> {
  const dir = path.join(p.dataDir, "chain");
  const pidFile = path.join(dir, "anvil.pid");
  const stateFile = path.join(dir, "anvil-state.json");
  const warn = p.onWarning ?? p.onProgress ?? (() => undefined);
  await stopOrphanedAnvil(pidFile);
  const launch = async (port: number | undefined) => {
    const restored = restoreTornState(stateFile);
    if (restored) warn(restored);
    const node = await startAnvil({ stateFile, chainId: EMBEDDED_CHAIN_ID, port, args: p.blockTimeSeconds ? ["--block-time", String(p.blockTimeSeconds)] : [] });
    writeFileSync(pidFile, String(node.process.pid));
    return node;
  };
  const first = await launch(p.port);
  // Restarted on the port it got, so the provider and the RPC URL given to verifiers stay valid.
  const anvil = superviseAnvil({ first, restart: () => launch(Number(new URL(first.rpcUrl).port)), report: warn });
  const stopAnvil = anvil.stop;
  anvil.stop = async () => {
    await stopAnvil();
    rmSync(pidFile, { force: true });
  };
  const durability = new AnvilStateWitness(stateFile);
  try {
    const provider = connectProvider(anvil.rpcUrl, { chainId: EMBEDDED_CHAIN_ID });
    const wallet = loadOrCreateKey(path.join(dir, "anchor-key")).connect(provider);
    const deploymentFile = path.join(dir, "deployment.json");
    let deployment: Deployment;
    if (existsSync(deploymentFile)) {
      deployment = JSON.parse(readFileSync(deploymentFile, "utf8")) as Deployment;
      if ((await provider.getCode(deployment.contract)) === "0x") {
        throw new Error(
          `the embedded chain has no contract at ${deployment.contract}: its state (${dir}/anvil-state.json) was lost or replaced. ` +
            `Receipts already issued point at that contract; restore the state file, or move ${p.dataDir} aside to start a new ledger.`,
        );
      }
    } else {
      // A fresh chain: fund the key and deploy. Anvil's own test accounts are never used.
      await provider.send("anvil_setBalance", [wallet.address, "0x" + (10n ** 24n).toString(16)]);
      p.onProgress?.("deploying ProvenanceLedger to the embedded chain");
      // One signer that counts its own nonces: the provider's short cache could hand out a used one.
      const signer = new NonceManager(wallet);
      const deployed = await deployLedger({ deployer: signer });
      const registered = await registerLog({
        logAdmin: signer,
        contract: deployed.address,
        logId: p.logId,
        anchorer: wallet.address,
        name: p.logName,
        adminCode: p.logDivision,
      });
      deployment = { chainId: EMBEDDED_CHAIN_ID, contract: deployed.address, blockNumber: deployed.blockNumber, logId: p.logId };
      // Anvil dumps its state every second: a crash before the file holds the registration would lose the deployment.
      await durability.waitForBlock(registered.blockNumber);
      writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2) + "\n");
    }
    return { anvil, provider, wallet, contract: deployment.contract, chainId: EMBEDDED_CHAIN_ID, durability };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/**
 * A gateway killed with SIGKILL cannot stop its Anvil, which then keeps the
 * chain state file. Stop that one (SIGTERM makes it dump its state) before
 * starting the next, so two nodes never share a state file.
 */
async function stopOrphanedAnvil(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8"));
  if (Number.isInteger(pid) && pid > 0 && isAnvil(pid)) {
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  rmSync(pidFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isAnvil(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("anvil");
  } catch {
    return false;
  }
}

function loadOrCreateKey(file: string): Wallet {
  if (existsSync(file)) return new Wallet(readFileSync(file, "utf8").trim());
  const wallet = Wallet.createRandom();
  writeFileSync(file, wallet.privateKey + "\n", { mode: 0o600 });
  return new Wallet(wallet.privateKey);
}
