import { AppError } from "../errors";

/** A leaf index from a path or query parameter: a non-negative safe integer in decimal. */
export function parseIndex(value: unknown, name = "index"): number {
  if (typeof value !== "string" || !/^(0|[1-9]\d{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new AppError({ code: "BAD_REQUEST", message: `${name} must be a non-negative integer; got ${JSON.stringify(value)}` });
  }
  return Number(value);
}

export function parseLimit(value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = parseIndex(value, "limit");
  if (n < 1 || n > max) throw new AppError({ code: "BAD_REQUEST", message: `limit must be between 1 and ${max}; got ${n}` });
  return n;
}
