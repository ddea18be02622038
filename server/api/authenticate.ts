import type { NextFunction, Request, Response } from "express";
import { AppError } from "../errors";
import type { KeyStore, Principal } from "../auth/key-store";

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

/** Middleware: every /v1 call needs a key. */
export function authenticate(keys: KeyStore) {
  return (req: Request, _res: Response, next: NextFunction) => {
    req.principal = principalFromAuthorization(keys, req.headers.authorization);
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new AppError({ code: "UNAUTHENTICATED", message: "not authenticated" });
  return req.principal;
}
