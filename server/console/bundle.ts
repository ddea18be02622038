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
 * Built once per process (and source-map setting), on first use, and kept. Source
 * maps — the whole source, 1.2 MB — are for development only (CONSOLE_SOURCE_MAPS):
 * without them the script names no map, and with them the map names files relative
 * to the project, never a path of the machine it was built on.
 */

export const WEB_DIR = path.join(__dirname, "web");
/** The project's root: source-map paths are given relative to it. */
const ROOT = path.resolve(__dirname, "..", "..");

export interface ConsoleAsset {
  contentType: string;
  body: Buffer;
}

export interface ConsoleBundle {
  /** By file name as served under /console/: index.html, app.js, console.css, and app.js.map when built with source maps. */
  assets: Map<string, ConsoleAsset>;
}

export interface ConsoleBundleOptions {
  /** Build app.js.map and name it in app.js (development only; default false). */
  sourceMaps?: boolean;
}

const cached = new Map<boolean, Promise<ConsoleBundle>>();

/** The bundle, built on first call; a failed build is retried on the next call. */
export function consoleBundle({ sourceMaps = false }: ConsoleBundleOptions = {}): Promise<ConsoleBundle> {
  let bundle = cached.get(sourceMaps);
  if (!bundle) {
    bundle = buildConsoleBundle({ sourceMaps }).catch((error: unknown) => {
      cached.delete(sourceMaps);
      throw error;
    });
    cached.set(sourceMaps, bundle);
  }
  return bundle;
}

export async function buildConsoleBundle({ sourceMaps = false }: ConsoleBundleOptions = {}): Promise<ConsoleBundle> {
  const result = await build({
    entryPoints: [path.join(WEB_DIR, "app.ts")],
    bundle: true,
    write: false,
    // Only names the outputs (nothing is written); the map's paths are relative to it.
    outdir: ROOT,
    entryNames: "app",
    platform: "browser",
    format: "esm",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    minify: true,
    sourcemap: sourceMaps ? "linked" : false,
    sourcesContent: true,
    legalComments: "none",
    logLevel: "silent",
    plugins: [browserNodeModules(), englishOnlyZod()],
  });
  const assets = new Map<string, ConsoleAsset>();
  for (const file of result.outputFiles) {
    const name = path.basename(file.path);
    if (name.endsWith(".map")) assets.set(name, { contentType: "application/json; charset=utf-8", body: withProjectPaths(file.text) });
    else assets.set(name, { contentType: "text/javascript; charset=utf-8", body: Buffer.from(file.contents) });
  }
  if (!assets.has("app.js")) throw new Error("the console bundle has no app.js");
  assets.set("index.html", { contentType: "text/html; charset=utf-8", body: await readFile(path.join(WEB_DIR, "index.html")) });
  assets.set("console.css", { contentType: "text/css; charset=utf-8", body: await readFile(path.join(WEB_DIR, "console.css")) });
  return { assets };
}

/**
 * A source map whose sources are relative to the project. esbuild gives them
 * relative to `outdir`, and follows symbolic links, so a linked node_modules (a
 * worktree's) would come out as "../<elsewhere>/node_modules/…": such paths are cut
 * to "node_modules/…".
 */
function withProjectPaths(mapText: string): Buffer {
  const map = JSON.parse(mapText) as { sources: string[] };
  map.sources = map.sources.map((source) => {
    const relative = path.relative(ROOT, path.resolve(ROOT, source)).split(path.sep).join("/");
    if (!relative.startsWith("../")) return relative;
    const inModules = relative.lastIndexOf("node_modules/");
    return inModules === -1 ? path.posix.basename(relative) : relative.slice(inModules);
  });
  return Buffer.from(JSON.stringify(map));
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
