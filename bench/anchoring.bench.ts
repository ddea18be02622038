/**
 * Anchoring gas on a throw-away Anvil under its default hardfork: one anchor of a
 * checkpoint covering 1, 100, 10,000 and 100,000 new events (each from the same anchored
 * tree, via evm_snapshot/evm_revert), per event, against a naive design that stores one
 * hash per event on chain; and the on-chain `verifyInclusion` at a million leaves.
 *
 * Roots and proofs are real: the tree is built in memory from synthetic leaf hashes with
 * the project's MerkleTreeStore, so the contract verifies every consistency proof.
 */
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Contract, ContractFactory, NonceManager, Wallet, hexlify, type JsonRpcProvider, type TransactionReceipt } from "ethers";
import { MerkleTreeStore, hashLeaf, type ByteEncodings, type MerkleStoreDb, type PutOperation } from "../server/merkle";
import { startAnvil } from "../server/chain/anvil";
import { connectProvider } from "../server/chain/provider";
import { deployLedger, registerLog, loadLedgerArtifact } from "../server/chain/deploy";
import { formatCount, median, onCleanup, progress, type BenchOptions } from "./common";
import { prng } from "./events";

const SUITE = "anchoring";
const ROOT = path.resolve(__dirname, "..");
const BATCHES = [1, 100, 10_000, 100_000];
const NAIVE_EVENTS = 100;

/** MerkleStoreDb in memory: the tree's nodes in a Map, for building proofs quickly. */
class MemoryDb implements MerkleStoreDb {
  private readonly map = new Map<string, Uint8Array>();
  private static key(key: Uint8Array): string {
    return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
  }
  async get(key: Uint8Array, _options: ByteEncodings) {
    return this.map.get(MemoryDb.key(key));
  }
  async getMany(keys: Uint8Array[], _options: ByteEncodings) {
    return keys.map((key) => this.map.get(MemoryDb.key(key)));
  }
  async batch(operations: PutOperation[], _options: ByteEncodings & { sync?: boolean }) {
    for (const { key, value } of operations) this.map.set(MemoryDb.key(key), value);
  }
}

/**
 * Compiles the contracts (a no-op when nothing changed, well under a second) so that gas is
 * measured on the current sources. If that fails (say, a contract mid-edit) the existing
 * artifacts are used, with a warning.
 */
function compileContracts(): void {
  try {
    execFileSync(path.join(ROOT, "node_modules", ".bin", "hardhat"), ["compile", "--quiet"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split("\n").slice(-3).join(" / ");
    progress(`${SUITE}: hardhat compile failed (${stderr}); measuring the artifacts already in artifacts/`);
  }
}

function artifact(name: string): { abi: unknown[]; bytecode: string } {
  const file = path.join(ROOT, "artifacts", "contracts", "bench", `${name}.sol`, `${name}.json`);
  if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run \`npx hardhat compile\``);
  return JSON.parse(readFileSync(file, "utf8")) as { abi: unknown[]; bytecode: string };
}

const hex = (bytes: Uint8Array) => hexlify(bytes);

export async function anchoringBench({ quick, report }: BenchOptions): Promise<void> {
  const baseSize = quick ? 100_000 : 1_000_000;
  const maxSize = baseSize + Math.max(...BATCHES);
  compileContracts();
  loadLedgerArtifact(); // fails early, with its own message, when the contract is not compiled
  const naiveArtifact = artifact("NaiveHashStore");
  const probeArtifact = artifact("VerifyInclusionGasProbe");

  // --- The tree, in memory ---------------------------------------------------------------
  progress(`${SUITE}: building a tree of ${formatCount(maxSize)} synthetic leaves in memory`);
  const tree = await MerkleTreeStore.open(new MemoryDb(), { sync: false });
  const leafData = Buffer.alloc(8);
  const leafHashOf = (i: number) => {
    leafData.writeUInt32BE(Math.floor(i / 2 ** 32), 0);
    leafData.writeUInt32BE(i % 2 ** 32, 4);
    return hashLeaf(leafData);
  };
  for (let from = 0; from < maxSize; from += 50_000) {
    const hashes: Uint8Array[] = [];
    for (let i = from; i < Math.min(maxSize, from + 50_000); i++) hashes.push(leafHashOf(i));
    await tree.append(hashes);
  }

  // --- A fresh chain --------------------------------------------------------------------------
  const anvil = await startAnvil({ chainId: 31337 });
  const stopAnvil = onCleanup(`anvil (pid ${anvil.process.pid})`, () => anvil.stop());
  const provider: JsonRpcProvider = connectProvider(anvil.rpcUrl, { chainId: 31337, timeoutMs: 60_000 });
  try {
    const nodeInfo = (await provider.send("anvil_nodeInfo", [])) as { hardFork?: string };
    const hardfork = nodeInfo.hardFork ?? "unknown";
    progress(`${SUITE}: Anvil ${anvil.rpcUrl}, hardfork ${hardfork}`);
    const wallet = Wallet.createRandom().connect(provider);
    await provider.send("anvil_setBalance", [wallet.address, "0x" + (10n ** 24n).toString(16)]);
    const signer = new NonceManager(wallet);
    const { address } = await deployLedger({ deployer: signer });
    const logId = hex(randomBytes(32));
    await registerLog({ logAdmin: signer, contract: address, logId, anchorer: wallet.address, name: "bench", adminCode: "330102000000" });
    const ledger = new Contract(address, loadLedgerArtifact().abi as never, wallet);
    // Nonces counted here: evm_revert rewinds the chain's, and the provider caches them.
    let nonce = Number(BigInt((await provider.send("eth_getTransactionCount", [wallet.address, "latest"])) as string));

    const anchor = async (treeSize: number, proof: Uint8Array[]): Promise<TransactionReceipt> => {
      const tx = await ledger.anchor!(logId, treeSize, hex(await tree.root(treeSize)), proof.map(hex), { nonce: nonce++ });
      const receipt = (await tx.wait()) as TransactionReceipt;
      if (receipt.status !== 1) throw new Error(`anchor(${treeSize}) reverted`);
      return receipt;
    };

    // The first anchor carries no proof; every later one proves it extends this one.
    const first = await anchor(baseSize, []);
    progress(`${SUITE}: first anchor (${formatCount(baseSize)} events, no proof): ${first.gasUsed} gas`);

    const perBatch: { events: number; gas: number; proofLength: number }[] = [];
    for (const events of BATCHES) {
      const snapshot = (await provider.send("evm_snapshot", [])) as string;
      const proof = await tree.consistencyProof(baseSize, baseSize + events);
      const receipt = await anchor(baseSize + events, proof);
      perBatch.push({ events, gas: Number(receipt.gasUsed), proofLength: proof.length });
      if (!((await provider.send("evm_revert", [snapshot])) as boolean)) throw new Error("evm_revert failed");
      nonce--;
    }
    const gasList = perBatch.map((b) => b.gas);
    const spread = Math.max(...gasList) / Math.min(...gasList);
    const fork = `hardfork ${hardfork}`;
    for (const { events, gas, proofLength } of perBatch) {
      report.add({
        suite: SUITE,
        metric: `gas per anchor, ${formatCount(events)} event${events === 1 ? "" : "s"} after ${formatCount(baseSize)} (proof of ${proofLength} hashes)`,
        value: gas,
        unit: "gas",
        baseline: `${formatCount(gasList[0]!)} gas for 1 event`,
        ratio: gas / gasList[0]!,
        note: `${fork}; first anchor of the log (no proof) ${first.gasUsed} gas`,
      });
    }
    report.add({
      suite: SUITE,
      metric: `gas per anchor, largest ÷ smallest over batches of ${BATCHES.map(formatCount).join(" / ")} (${fork}${hardfork === "Bpo1" ? ": Osaka rules" : ""})`,
      value: Number(spread.toFixed(3)),
      unit: "x",
      baseline: `${formatCount(Math.min(...gasList))}–${formatCount(Math.max(...gasList))} gas`,
      ratio: spread,
      floor: "≤ 1.25x (constant but for the O(log n) proof)",
      ok: spread <= 1.25,
    });
    const largest = perBatch[perBatch.length - 1]!;
    const oursPerEvent = largest.gas / largest.events;

    // --- The naive design ----------------------------------------------------------------------
    const naiveFactory = new ContractFactory(naiveArtifact.abi as never, naiveArtifact.bytecode, wallet);
    const naive = (await (await naiveFactory.deploy({ nonce: nonce++ })).waitForDeployment()) as unknown as Contract;
    const storeHashes = async (from: number) => {
      const hashes = Array.from({ length: NAIVE_EVENTS }, (_, i) => hex(leafHashOf(from + i)));
      const receipt = (await (await naive.store!(hashes, { nonce: nonce++ })).wait()) as TransactionReceipt;
      return Number(receipt.gasUsed);
    };
    const naiveFirst = await storeHashes(0);
    const naiveGas = await storeHashes(NAIVE_EVENTS); // steady state: the counter slot already set
    const naivePerEvent = naiveGas / NAIVE_EVENTS;
    report.add({
      suite: SUITE,
      metric: `gas per event, one anchor of ${formatCount(largest.events)} events`,
      value: Number(oursPerEvent.toFixed(3)),
      unit: "gas/event",
      baseline: `${formatCount(Math.round(naivePerEvent))} gas/event naive (one hash per event stored on chain, ${NAIVE_EVENTS} per tx)`,
      ratio: oursPerEvent / naivePerEvent,
    });
    report.add({
      suite: SUITE,
      metric: `naive design: gas per event, ${NAIVE_EVENTS} hashes per transaction`,
      value: Math.round(naivePerEvent),
      unit: "gas/event",
      baseline: `${oursPerEvent.toFixed(3)} gas/event anchoring ${formatCount(largest.events)} per checkpoint`,
      ratio: naivePerEvent / oursPerEvent,
      note: `first call (counter slot from zero) ${naiveFirst} gas, steady state ${naiveGas} gas per ${NAIVE_EVENTS} hashes`,
    });

    // --- verifyInclusion on chain at baseSize leaves ---------------------------------------------
    const probeFactory = new ContractFactory(probeArtifact.abi as never, probeArtifact.bytecode, wallet);
    const probe = (await (await probeFactory.deploy({ nonce: nonce++ })).waitForDeployment()) as unknown as Contract;
    const random = prng(7);
    const probeGas: number[] = [];
    const txGas: number[] = [];
    const lengths: number[] = [];
    for (let i = 0; i < 20; i++) {
      const index = Math.floor(random() * baseSize);
      const proof = (await tree.inclusionProof(index, baseSize)).map(hex);
      lengths.push(proof.length);
      const args = [logId, baseSize, index, hex(leafHashOf(index)), proof] as const;
      const [included, gasUsed] = (await probe.measure!(address, ...args)) as [boolean, bigint];
      if (!included) throw new Error(`verifyInclusion(${index}, ${baseSize}) returned false for a valid proof`);
      probeGas.push(Number(gasUsed));
      txGas.push(Number(await ledger.verifyInclusion!.estimateGas(...args)));
    }
    report.add({
      suite: SUITE,
      metric: `verifyInclusion at ${formatCount(baseSize)} leaves (proof of ${median(lengths)} hashes), called from a contract, median of 20`,
      value: median(probeGas),
      unit: "gas",
      baseline: `${formatCount(median(txGas))} gas as a transaction (eth_estimateGas: + 21,000 intrinsic + calldata)`,
      ratio: median(probeGas) / median(txGas),
      note: fork,
    });
    provider.destroy();
  } finally {
    await stopAnvil();
  }
}
