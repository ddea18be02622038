/** The web console for regulators and auditors, served by the gateway under /console. */
export { createConsoleRouter, CONSOLE_CSP, type ConsoleRouterOptions } from "./console-router";
export { buildConsoleBundle, consoleBundle, type ConsoleAsset, type ConsoleBundle, type ConsoleBundleOptions } from "./bundle";
