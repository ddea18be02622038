import type { IncomingHttpHeaders } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { AppError } from "../errors";

/**
 * Bodies are UTF-8 JSON: a request that has a body must send `Content-Type:
 * application/json`, with no charset or a UTF-8 one, or it is refused (415)
 * before a byte of it is read. A request without a body passes; its route
 * decides whether it needs one.
 */
export function refuseNonJsonBody(headers: IncomingHttpHeaders): void {
  const hasBody = (headers["content-length"] !== undefined && headers["content-length"] !== "0") || headers["transfer-encoding"] !== undefined;
  if (!hasBody) return;
  const type = headers["content-type"];
  const charset = CHARSET.exec(type ?? "")?.[1]?.toLowerCase();
  // Only UTF-8 by its registered name: the body parser decodes whatever charset it is told.
  if (!JSON_MEDIA_TYPE.test(type ?? "") || (charset !== undefined && charset !== "utf-8")) {
    throw new AppError({ code: "UNSUPPORTED_MEDIA_TYPE", message: `send UTF-8 JSON with Content-Type: application/json; got ${type ?? "none"}` });
  }
}

// The charset parameter, blanks around "=" and quotes allowed (as the body parser reads it).
const CHARSET = /;\s*charset\s*=\s*"?([^;\s"]*)/i;

// What Express's `req.is("application/json")` (type-is) answers for a request with a body: the
// media type, up to the first `;` and without blanks around it, is application/json in any case.
// (Node decodes header values as latin1, whose non-ASCII letters never fold to ASCII ones.)
const JSON_MEDIA_TYPE = /^[ \t]*application\/json[ \t]*(?:;|$)/i;

/** Middleware before the JSON body parser. */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  refuseNonJsonBody(req.headers);
  next();
}
