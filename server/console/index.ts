/** The web console for regulators and auditors, served by the gateway under /console. */
export { createConsoleRouter, CONSOLE_CSP } from "./console-router";
export { buildConsoleBundle, consoleBundle, type ConsoleAsset, type ConsoleBundle } from "./bundle";
