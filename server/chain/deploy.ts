import { ContractFactory, Contract, type Signer } from "ethers";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { LEDGER_ABI } from "./ledger-abi";

/** Where Hardhat writes the compiled contract (`npm run compile`, run by `npm start`). */
export const ARTIFACT_PATH = path.join(__dirname, "..", "..", "artifacts", "contracts", "ProvenanceLedger.sol", "ProvenanceLedger.json");

export interface LedgerArtifact {
  abi: unknown[];
  bytecode: string;
}

export function loadLedgerArtifact(): LedgerArtifact {
  if (!existsSync(ARTIFACT_PATH)) {
    throw new Error(`the contract is not compiled (${ARTIFACT_PATH} is missing); run \`npm run compile\``);
  }
  return JSON.parse(readFileSync(ARTIFACT_PATH, "utf8")) as LedgerArtifact;
}

export interface DeployLedgerParameters {
  deployer: Signer;
  /** Defaults to the deployer. */
  admin?: string;
}

/** Deploys ProvenanceLedger and waits for it; the admin gets both admin and log-admin roles. */
export async function deployLedger({ deployer, admin }: DeployLedgerParameters): Promise<{ address: string; blockNumber: number; txHash: string }> {
  const artifact = loadLedgerArtifact();
  const factory = new ContractFactory(artifact.abi as never, artifact.bytecode, deployer);
  const contract = await factory.deploy(admin ?? (await deployer.getAddress()));
  const receipt = await contract.deploymentTransaction()!.wait();
  return { address: (await contract.getAddress()).toLowerCase(), blockNumber: receipt!.blockNumber, txHash: receipt!.hash };
}

export interface RegisterLogParameters {
  logAdmin: Signer;
  contract: string;
  logId: string;
  anchorer: string;
  name: string;
  adminCode: string;
}

export async function registerLog(p: RegisterLogParameters): Promise<{ blockNumber: number }> {
  const ledger = new Contract(p.contract, LEDGER_ABI, p.logAdmin);
  const tx = await ledger.registerLog(p.logId, p.anchorer, p.name, p.adminCode);
  const receipt = await tx.wait();
  return { blockNumber: receipt!.blockNumber };
}
