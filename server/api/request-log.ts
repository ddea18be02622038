import type { ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";

/**
 * One debug line per answered request: method, path (without the query, which may
 * carry a subject id), status, time, and the id of the key — never the key itself.
 * `describe` is called when the answer is sent, once the key is known.
 */
export function logWhenAnswered(logger: Logger, res: ServerResponse, describe: () => { method?: string; path: string; key?: string }): void {
  if (!logger.isLevelEnabled("debug")) return; // no listener and no clock read per request when the line would be dropped
  const started = process.hrtime.bigint();
  res.on("finish", () => {
    const { method, path, key } = describe();
    logger.debug({ method, path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6, key }, "request");
  });
}

/** Middleware, first after the security headers. */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    // baseUrl + path: the whole path, also when the answer is sent from inside a mounted router.
    logWhenAnswered(logger, res, () => ({ method: req.method, path: req.baseUrl + req.path, key: req.principal?.id }));
    next();
  };
}
