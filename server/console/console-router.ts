import express, { type Request, type Response } from "express";
import { consoleBundle } from "./bundle";

/**
 * Serves the web console under /console: one HTML page, its stylesheet and the
 * bundled script, all from the gateway (no CDN). The page calls the JSON API
 * with the API key the user signs in with; it holds no privilege of its own,
 * so these routes need no key.
 *
 * The console's Content Security Policy replaces the app-wide one: scripts and
 * styles only from this origin, no inline code, no eval, Trusted Types for DOM
 * sinks; `connect-src` also allows any http(s) endpoint, because the receipt
 * verifier asks the chain through a JSON-RPC URL the auditor chooses.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' http: https:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

export interface ConsoleRouterOptions {
  /** Serve /console/app.js.map (the whole source): a development setting, CONSOLE_SOURCE_MAPS. Default false. */
  sourceMaps?: boolean;
}

export function createConsoleRouter({ sourceMaps = false }: ConsoleRouterOptions = {}): express.Router {
  const files = new Set(sourceMaps ? ["app.js", "app.js.map", "console.css"] : ["app.js", "console.css"]);
  const router = express.Router();
  router.use((_req, res, next) => {
    res.setHeader("Content-Security-Policy", CONSOLE_CSP);
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("Referrer-Policy", "no-referrer");
    next();
  });
  router.get("/", (req, res) => send(req, res, "index.html", sourceMaps));
  router.get("/:file", (req, res, next) => (files.has(String(req.params.file)) ? send(req, res, String(req.params.file), sourceMaps) : next()));
  return router;
}

async function send(_req: Request, res: Response, name: string, sourceMaps: boolean): Promise<void> {
  const asset = (await consoleBundle({ sourceMaps })).assets.get(name);
  if (!asset) throw new Error(`console asset ${name} is missing from the bundle`);
  res.type(asset.contentType).send(asset.body);
}
