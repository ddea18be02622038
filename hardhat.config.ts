import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";
import path from "node:path";

const SOLIDITY_VERSION = "0.8.28";

// This machine reaches no compiler download site: compile with the solc-js build
// that the `solc` npm package ships, pinned to exactly the configured version.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }) => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const solc = require("solc");
  const longVersion: string = solc.version();
  const shipped = longVersion.split("+")[0];
  if (args.solcVersion !== shipped) {
    throw new Error(
      `Solidity ${args.solcVersion} requested but the solc npm package is ${shipped}; ` +
        `install solc@${args.solcVersion} (exact) or change the configured version`,
    );
  }
  return {
    compilerPath: path.join(path.dirname(require.resolve("solc")), "soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: longVersion.replace(/\.Emscripten\.clang$/, ""),
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLIDITY_VERSION,
    settings: { optimizer: { enabled: true, runs: 10_000 }, evmVersion: "cancun" },
  },
  paths: { tests: "test", sources: "contracts" },
  // `npx hardhat run scripts/hardhat-deploy.ts --network external`: an external chain named by the environment.
  networks: {
    external: {
      url: process.env.LEDGER_RPC_URL ?? "http://127.0.0.1:8545",
      accounts: process.env.LEDGER_CHAIN_PRIVATE_KEY ? [process.env.LEDGER_CHAIN_PRIVATE_KEY] : [],
    },
  },
  mocha: {
    timeout: 120_000,
    reporter: path.join(__dirname, "test", "support", "summary-reporter.js"),
  },
  gasReporter: { enabled: false },
};

export default config;
