/** What every page of the console gets: where to draw, its hash parameters, and a signal that fires when the user leaves. */
export interface PageContext {
  main: HTMLElement;
  params: URLSearchParams;
  signal: AbortSignal;
}

export interface Page {
  /** Shown in the navigation and the document title. */
  title: string;
  render(ctx: PageContext): Promise<void> | void;
}

/** Resolves after `ms`, or rejects when `signal` fires. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Builds `#/route?params` from parameters, leaving out empty ones. */
export function routeHash(route: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== "") query.set(name, value);
  const text = query.toString();
  return `#/${route}${text ? `?${text}` : ""}`;
}

/** Goes to `hash`; when it is the current one, renders the page again. */
export function navigate(hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
