import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { AppError, isAppError } from "../errors";
import { InvalidUtf8Body } from "./json-input";

/**
 * The one error path of the API: every failure becomes `{ error: { code,
 * message, details? } }` with the status of its code. Body-parser's own errors
 * (bad JSON, too large, wrong charset) are translated to our codes here.
 * `errorAnswer` decides the answer; the Express routes send it through
 * `errorHandler`, the lean POST /v1/events path sends it itself.
 */

export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: string; message: string; details?: unknown } };
}

/** The answer to a failed request; failures of ours (5xx) are logged with the request's method and path. */
export function errorAnswer(error: unknown, logger: Logger, request: { method?: string; path: string }): ErrorAnswer {
  const appError = toAppError(error);
  if (appError.status >= 500) logger.error({ err: error, method: request.method, path: request.path }, "request failed");
  return {
    status: appError.status,
    headers: appError.code === "OVERLOADED" ? { "Retry-After": "1" } : {},
    body: {
      error: { code: appError.code, message: appError.message, ...(appError.details === undefined ? {} : { details: appError.details }) },
    },
  };
}

export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const answer = errorAnswer(error, logger, req);
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.status(answer.status).json(answer.body);
  };
}

function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  if (error instanceof InvalidUtf8Body) {
    return new AppError({ code: "INVALID_UTF8", message: error.message, details: { offset: error.offset } });
  }
  const e = error as { type?: string; status?: number; message?: string; limit?: number };
  switch (e?.type) {
    case "entity.too.large":
      return new AppError({ code: "PAYLOAD_TOO_LARGE", message: `request body is larger than ${e.limit} bytes` });
    case "entity.parse.failed":
      return new AppError({ code: "BAD_REQUEST", message: `request body is not valid JSON: ${e.message}` });
    case "charset.unsupported":
    case "encoding.unsupported":
      return new AppError({ code: "UNSUPPORTED_MEDIA_TYPE", message: e.message ?? "unsupported body encoding" });
    case "request.aborted":
      return new AppError({ code: "BAD_REQUEST", message: "request aborted" });
  }
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    return new AppError({ code: "BAD_REQUEST", message: e.message ?? "bad request" });
  }
  return new AppError({ code: "INTERNAL", message: "internal error", cause: error });
}
