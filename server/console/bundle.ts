import { readFile } from "node:fs/promises";
import path from "node:path";
import { build, type Plugin } from "esbuild";

/**
 * The console's browser code, bundled with esbuild in memory: the TypeScript
 * under `web/` plus the gateway's own pure modules it imports (RFC 9162 Merkle
 * code, RFC 8785 canonicalisation, receipt verification), so the page checks
 * receipts with the very code the gateway and the CLI use. Nothing is fetched
 * from elsewhere; the only Node module that code touches, `node:crypto`, is
 * replaced by a small shim over @noble/hashes.
 *
 * Built once per process, on first use, and kept.
 */

export const WEB_DIR = path.join(__dirname, "web");

export interface ConsoleAsset {
  contentType: string;
  body: Buffer;
}

export interface ConsoleBundle {
  /** By file name as served under /console/: index.html, app.js, app.js.map, console.css. */
  assets: Map<string, ConsoleAsset>;
}

let cached: Promise<ConsoleBundle> | undefined;

/** The bundle, built on first call; a failed build is retried on the next call. */
export function consoleBundle(): Promise<ConsoleBundle> {
  cached ??= buildConsoleBundle().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

export async function buildConsoleBundle(): Promise<ConsoleBundle> {
  const result = await build({
    entryPoints: [path.join(WEB_DIR, "app.ts")],
    bundle: true,
    write: false,
    outdir: "/console",
    entryNames: "app",
    platform: "browser",
    format: "esm",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    minify: true,
    sourcemap: "external",
    sourcesContent: true,
    legalComments: "none",
    logLevel: "silent",
    plugins: [browserNodeModules(), englishOnlyZod()],
  });
  const assets = new Map<string, ConsoleAsset>();
  for (const file of result.outputFiles) {
    const name = path.basename(file.path);
    assets.set(name, { contentType: name.endsWith(".map") ? "application/json; charset=utf-8" : "text/javascript; charset=utf-8", body: Buffer.from(file.contents) });
  }
  if (!assets.has("app.js")) throw new Error("the console bundle has no app.js");
  assets.set("index.html", { contentType: "text/html; charset=utf-8", body: await readFile(path.join(WEB_DIR, "index.html")) });
  assets.set("console.css", { contentType: "text/css; charset=utf-8", body: await readFile(path.join(WEB_DIR, "console.css")) });
  return { assets };
}

/**
 * zod (the receipt schema) exports its messages in ~50 languages as one namespace
 * that no bundler can trim; the console keeps English only, halving the bundle.
 */
function englishOnlyZod(): Plugin {
  return {
    name: "english-only-zod",
    setup(b) {
      b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
        contents: 'export { default as en } from "./en.js";\n',
        loader: "js",
        resolveDir: path.dirname(args.path),
      }));
    },
  };
}

/** `node:crypto` → the @noble/hashes shim; any other Node built-in is a build error, not a runtime surprise. */
function browserNodeModules(): Plugin {
  return {
    name: "browser-node-modules",
    setup(b) {
      b.onResolve({ filter: /^(node:)?crypto$/ }, () => ({ path: path.join(WEB_DIR, "node-crypto.ts") }));
      b.onResolve({ filter: /^node:/ }, (args) => ({
        errors: [{ text: `${args.path} is a Node module; the console's browser code (imported from ${path.relative(WEB_DIR, args.importer)}) must not use it` }],
      }));
    },
  };
}
