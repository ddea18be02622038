/**
 * The Hardhat way to deploy ProvenanceLedger on an external chain:
 *   LEDGER_RPC_URL=… LEDGER_CHAIN_PRIVATE_KEY=… npx hardhat run scripts/hardhat-deploy.ts --network external
 * It does what `ledger chain deploy` does (the sender becomes admin and log admin) and prints the address.
 */
import hre from "hardhat";
import { deployLedger } from "../server/chain/deploy";

async function main(): Promise<void> {
  const [deployer] = await hre.ethers.getSigners();
  if (!deployer) throw new Error("no account: set LEDGER_CHAIN_PRIVATE_KEY");
  const deployed = await deployLedger({ deployer });
  const receipt = await hre.ethers.provider.getTransactionReceipt(deployed.txHash);
  console.error(`deployed ProvenanceLedger on ${hre.network.name} (chain ${(await hre.ethers.provider.getNetwork()).chainId}) in block ${deployed.blockNumber}, gas ${receipt?.gasUsed}`);
  console.log(deployed.address);
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exitCode = 1;
});
