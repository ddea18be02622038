import type { IncomingMessage, ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { AppError, isAppError } from "../errors";
import { keyIdOf, type KeyStore, type Principal } from "../auth/key-store";
import { clientAddressKey, type AuthThrottle } from "./auth-throttle";

declare module "express-serve-static-core" {
  interface Request {
    principal?: Principal;
  }
}

/** The principal of an `Authorization: Bearer <key>` header, or 401; the key itself never reaches a log line. */
export function principalFromAuthorization(keys: KeyStore, header: string | undefined): Principal {
  if (!header) throw new AppError({ code: "UNAUTHENTICATED", message: "missing Authorization: Bearer <API key> header" });
  const match = /^Bearer ([^\s]+)$/.exec(header);
  if (!match) throw new AppError({ code: "UNAUTHENTICATED", message: "Authorization header must be `Bearer <API key>`" });
  return keys.authenticate(match[1]!);
}

/** Authenticates a request, or throws 401 (or 429 with Retry-After set on `res` when throttled). One for both HTTP paths. */
export type Authenticator = (req: IncomingMessage, res: ServerResponse) => Principal;

/** Authentication with failed attempts throttled (server/api/auth-throttle.ts) when `throttle` is given. */
export function authenticator(keys: KeyStore, throttle?: AuthThrottle): Authenticator {
  if (!throttle) return (req) => principalFromAuthorization(keys, req.headers.authorization);
  return (req, res) => {
    const address = clientAddressKey(req.socket.remoteAddress);
    // Refused before the key is looked at: a throttled address costs a map lookup.
    const addressWait = throttle.addressWait(address);
    if (addressWait > 0) throttled(res, addressWait, `too many failed authentications from this address; retry in ${addressWait} s`);
    const header = req.headers.authorization;
    try {
      return principalFromAuthorization(keys, header);
    } catch (error) {
      if (!isAppError(error) || error.code !== "UNAUTHENTICATED") throw error;
      const keyId = header === undefined ? undefined : keyIdOf(header.replace(/^Bearer /, ""));
      // Only failures of a throttled key id are refused; its correct secret got through above.
      const keyIdWait = keyId === undefined ? 0 : throttle.keyIdWait(keyId);
      throttle.failed(address, keyId);
      if (keyIdWait > 0) throttled(res, keyIdWait, `too many failed authentications for this key id; retry in ${keyIdWait} s`);
      throw error;
    }
  };
}

function throttled(res: ServerResponse, seconds: number, message: string): never {
  res.setHeader("Retry-After", String(seconds));
  throw new AppError({ code: "RATE_LIMITED", message, details: { retryAfterSeconds: seconds } });
}

/** Middleware: every /v1 call needs a key. */
export function authenticate(authenticateRequest: Authenticator) {
  return (req: Request, res: Response, next: NextFunction) => {
    req.principal = authenticateRequest(req, res);
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new AppError({ code: "UNAUTHENTICATED", message: "not authenticated" });
  return req.principal;
}
