/**
 * The console's only way to the gateway: the JSON API with the signed-in key.
 * The key lives in sessionStorage (gone when the tab closes); a 401 signs out.
 */
import { verbatim, type Child } from "./dom";
import { t, tParts } from "./i18n/i18n";

const KEY_ITEM = "ledger-console.api-key";

export function storedKey(): string | undefined {
  return sessionStorage.getItem(KEY_ITEM) ?? undefined;
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function clearKey(): void {
  sessionStorage.removeItem(KEY_ITEM);
}

/** The public id part of a key (`pl_<id>_<secret>`), to show who is signed in; never the secret. */
export function keyId(key: string): string | undefined {
  return /^pl_([0-9a-f]+)_/.exec(key)?.[1];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: { path?: string; message?: string }[],
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** True for a 404 from the app's catch-all: the route itself does not exist on this gateway. */
  get noRoute(): boolean {
    return this.status === 404 && /^no route /.test(this.message);
  }
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
}

let onUnauthenticated: (message: string) => void = () => undefined;

/** Called when the gateway refuses the key (revoked, mistyped): the app signs out. */
export function whenUnauthenticated(handler: (message: string) => void): void {
  onUnauthenticated = handler;
}

export interface CallOptions {
  method?: "GET" | "POST";
  body?: unknown;
  query?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Use this key instead of the stored one (sign-in). */
  key?: string;
}

/** Calls the API; resolves for 2xx (including 202), throws ApiError otherwise. */
export async function call<T = any>(path: string, options: CallOptions = {}): Promise<ApiAnswer<T>> {
  const key = options.key ?? storedKey();
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined && value !== "") url.searchParams.set(name, value);
  const headers: Record<string, string> = { accept: "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const signal = withTimeout(options.signal, 30_000);
  let response: Response;
  try {
    response = await fetch(url, { method: options.method ?? "GET", headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal, cache: "no-store" });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError(0, "NETWORK", t("failure.network", { message: (error as Error).message }));
  }
  const text = await response.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (response.ok) return { status: response.status, body: body as T };
  const error = new ApiError(response.status, body?.error?.code ?? `HTTP_${response.status}`, body?.error?.message ?? `HTTP ${response.status}`, Array.isArray(body?.error?.details) ? body.error.details : undefined);
  if (response.status === 401 && options.key === undefined) onUnauthenticated(error.message);
  throw error;
}

/**
 * What to show when a call failed, worded for the page section that made it
 * (`what`, already in the console's language); the gateway's own message is
 * shown as it came.
 */
export function describeFailure(error: unknown, what: string): Child[] {
  if (error instanceof ApiError) {
    if (error.status === 403) return [t("failure.forbidden", { what })];
    if (error.noRoute) return [t("failure.noRoute", { what })];
    if (error.details?.length) {
      const details = error.details.map((d) => `${d.path || t("failure.queryPath")}: ${d.message}`).join("; ");
      return tParts("failure.loadDetails", { what, message: verbatim(error.message), details: verbatim(details) });
    }
    return tParts("failure.load", { what, message: verbatim(error.message) });
  }
  return tParts("failure.load", { what, message: verbatim((error as Error)?.message ?? String(error)) });
}

function withTimeout(outer: AbortSignal | undefined, ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(t("failure.timeout", { seconds: ms / 1000 }), "TimeoutError")), ms);
  outer?.addEventListener("abort", () => controller.abort(outer.reason), { once: true });
  controller.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  return controller.signal;
}
