import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { AppError, isAppError } from "../errors";

/**
 * The one error path of the API: every failure becomes `{ error: { code,
 * message, details? } }` with the status of its code. Body-parser's own errors
 * (bad JSON, too large, wrong charset) are translated to our codes here.
 */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appError = toAppError(error);
    if (appError.status >= 500) logger.error({ err: error, method: req.method, path: req.path }, "request failed");
    if (res.headersSent) return;
    if (appError.code === "OVERLOADED") res.setHeader("Retry-After", "1");
    res.status(appError.status).json({
      error: { code: appError.code, message: appError.message, ...(appError.details === undefined ? {} : { details: appError.details }) },
    });
  };
}

function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
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
