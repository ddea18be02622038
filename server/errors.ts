/**
 * The one application error. Each code maps to one HTTP status in one place
 * (`HTTP_STATUS`), so routes throw meaning and the API layer decides the answer.
 */
export const HTTP_STATUS = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  INVALID_UTF8: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  CHAIN_UNAVAILABLE: 503,
  OVERLOADED: 503,
  SHUTTING_DOWN: 503,
} as const;

export type AppErrorCode = keyof typeof HTTP_STATUS;

export interface AppErrorParameters {
  code: AppErrorCode;
  message: string;
  details?: unknown;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly details?: unknown;

  constructor({ code, message, details, cause }: AppErrorParameters) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "AppError";
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** A VALIDATION_FAILED error whose details name each bad field (from zod issues). */
export function validationFailed(message: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]): AppError {
  return new AppError({
    code: "VALIDATION_FAILED",
    message,
    details: issues.slice(0, 100).map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
  });
}
