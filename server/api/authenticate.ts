import type { NextFunction, Request, Response } from "express";
import { AppError } from "../errors";
import type { KeyStore, Principal } from "../auth/key-store";

declare module "express-serve-static-core" {
  interface Request {
    principal?: Principal;
  }
}

/** `Authorization: Bearer <key>` on every /v1 call; the key itself never reaches a log line. */
export function authenticate(keys: KeyStore) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (!header) throw new AppError({ code: "UNAUTHENTICATED", message: "missing Authorization: Bearer <API key> header" });
    const match = /^Bearer ([^\s]+)$/.exec(header);
    if (!match) throw new AppError({ code: "UNAUTHENTICATED", message: "Authorization header must be `Bearer <API key>`" });
    req.principal = keys.authenticate(match[1]!);
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new AppError({ code: "UNAUTHENTICATED", message: "not authenticated" });
  return req.principal;
}
