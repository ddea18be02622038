/**
 * `npm start`: the gateway with its defaults — the embedded Anvil chain and
 * LevelDB under ./data — or an external chain when RPC_URL is set.
 */
import { ConfigError, loadConfig } from "../server/config";
import { startGateway } from "../server/gateway";

// A reader of our output that went away (a closed pipe) must not crash a running gateway:
// writes fail with EPIPE, emitted on the stream; the gateway goes on, and stops as asked.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

async function main(): Promise<void> {
  let config;
  try {
    // A fixed, well-known port for the embedded chain, so `ledger verify --rpc` has a stable address.
    config = loadConfig({ CHAIN_PORT: "8545", ...process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const gateway = await startGateway(config, { onProgress: (m) => console.log(`• ${m}`) });
  const { chain } = gateway;
  console.log(
    [
      "",
      `Provenance ledger gateway listening on ${gateway.url}`,
      `  log id     ${gateway.logId}`,
      `  chain      ${chain.embedded ? "embedded Anvil" : "external"} ${chain.rpcUrl} (chain id ${chain.chainId})`,
      `  contract   ${chain.contract}`,
      `  data       ${config.dataDir}`,
      gateway.keysFile ? `  API keys   ${gateway.keysFile} (demo keys, local use only)` : "  API keys   npx ledger keys create --help",
      `  API docs   ${gateway.url}/v1/openapi.json`,
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (finishing writes, closing the database and the chain)…`);
    gateway.stop().then(
      () => {
        console.log("stopped.");
        process.exit(0);
      },
      (error) => {
        console.error("error while stopping:", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("unhandledRejection", (error) => {
    gateway.logger.fatal({ err: error }, "unhandled rejection");
    stop("unhandledRejection");
  });
}

main().catch((error: Error) => {
  console.error(`cannot start: ${error.message}`);
  if (error.cause) console.error(`  cause: ${(error.cause as Error).message ?? error.cause}`);
  process.exit(1);
});
