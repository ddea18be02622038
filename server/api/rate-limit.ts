import type { ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { AppError } from "../errors";

/**
 * Per-key token buckets: each key may make `ratePerSecond` requests a second
 * on average, in bursts of up to `burst`. Keeps one small entry per active
 * key; idle buckets are dropped so memory stays bounded.
 *
 * One `TokenBuckets` serves every route of an app (the Express routes and the
 * lean POST /v1/events path alike), so a key has one budget, not one per path.
 */
export type TokenBuckets = (keyId: string) => number;

/** Buckets whose function takes a token for a key and returns 0, or returns the whole seconds to wait when none is left. */
export function tokenBuckets({ ratePerSecond, burst }: { ratePerSecond: number; burst: number }): TokenBuckets {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = Date.now();
  return (keyId) => {
    const now = Date.now();
    if (now - lastSweep > 60_000) {
      for (const [key, bucket] of buckets) if (now - bucket.at > 60_000) buckets.delete(key);
      lastSweep = now;
    }
    const bucket = buckets.get(keyId) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * ratePerSecond);
    bucket.at = now;
    buckets.set(keyId, bucket);
    if (bucket.tokens < 1) return Math.ceil((1 - bucket.tokens) / ratePerSecond);
    bucket.tokens -= 1;
    return 0;
  };
}

/** Takes a token for `keyId`, or refuses the request: 429 RATE_LIMITED, with Retry-After set on `res`. */
export function takeToken(buckets: TokenBuckets, keyId: string, res: ServerResponse): void {
  const waitSeconds = buckets(keyId);
  if (waitSeconds === 0) return;
  res.setHeader("Retry-After", String(waitSeconds));
  throw new AppError({ code: "RATE_LIMITED", message: `too many requests for this key; retry in ${waitSeconds} s` });
}

/** Middleware after `authenticate`. */
export function rateLimitPerKey(buckets: TokenBuckets) {
  return (req: Request, res: Response, next: NextFunction) => {
    const id = req.principal?.id;
    if (id) takeToken(buckets, id, res);
    next();
  };
}
