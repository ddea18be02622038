import type { NextFunction, Request, Response } from "express";
import { AppError } from "../errors";

/**
 * Per-key token buckets: each key may make `ratePerSecond` requests a second
 * on average, in bursts of up to `burst`. Keeps one small entry per active
 * key; idle buckets are dropped so memory stays bounded.
 */
export function rateLimitPerKey({ ratePerSecond, burst }: { ratePerSecond: number; burst: number }) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = Date.now();
  return (req: Request, res: Response, next: NextFunction) => {
    const id = req.principal?.id;
    if (!id) return next();
    const now = Date.now();
    if (now - lastSweep > 60_000) {
      for (const [key, bucket] of buckets) if (now - bucket.at > 60_000) buckets.delete(key);
      lastSweep = now;
    }
    const bucket = buckets.get(id) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * ratePerSecond);
    bucket.at = now;
    buckets.set(id, bucket);
    if (bucket.tokens < 1) {
      const waitSeconds = Math.ceil((1 - bucket.tokens) / ratePerSecond);
      res.setHeader("Retry-After", String(waitSeconds));
      throw new AppError({ code: "RATE_LIMITED", message: `too many requests for this key; retry in ${waitSeconds} s` });
    }
    bucket.tokens -= 1;
    next();
  };
}
