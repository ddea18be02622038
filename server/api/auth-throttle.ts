/**
 * Failed authentications, counted per client address and per key id in fixed
 * windows, so a flood of wrong secrets is refused cheaply and noticed:
 *
 * - an address with `maxFailures` failures in the current window is refused
 *   (429) before its key is even looked at, whatever key it presents;
 * - a key id with `maxFailures` failures in the window has its further *failures*
 *   answered 429 instead of 401, but a correct secret still authenticates: a
 *   lockout per key id would let anyone who knows an id (it is not secret) lock
 *   the key's holder out;
 * - the failure that brings a key id to `maxFailures` is reported once
 *   (`onRepeatedFailures`), so a window raises one alert, not one per failure.
 *
 * Memory is bounded: at most `maxTracked` addresses and as many key ids; expired
 * entries go first, then the oldest.
 */

export interface AuthThrottleOptions {
  /** Failures in a window after which the address or key id is throttled. */
  maxFailures: number;
  windowMs: number;
  /** Addresses (and, separately, key ids) tracked at most (default 10,000). */
  maxTracked?: number;
  /** A key id reached maxFailures in a window; called once per key id per window. */
  onRepeatedFailures?: (report: RepeatedFailures) => void;
  now?: () => number;
}

export interface RepeatedFailures {
  keyId: string;
  failures: number;
  windowMs: number;
  /** Distinct client addresses the failures came from (counted up to MAX_ADDRESSES_PER_KEY). */
  addresses: number;
}

interface Window {
  start: number;
  failures: number;
  /** Key ids only: where the failures came from. */
  addresses?: Set<string>;
}

const MAX_ADDRESSES_PER_KEY = 16;

export class AuthThrottle {
  private readonly byAddress = new Map<string, Window>();
  private readonly byKeyId = new Map<string, Window>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxTracked: number;
  private readonly onRepeatedFailures?: (report: RepeatedFailures) => void;
  private readonly now: () => number;

  constructor({ maxFailures, windowMs, maxTracked = 10_000, onRepeatedFailures, now = Date.now }: AuthThrottleOptions) {
    this.maxFailures = maxFailures;
    this.windowMs = windowMs;
    this.maxTracked = maxTracked;
    this.onRepeatedFailures = onRepeatedFailures;
    this.now = now;
  }

  /** 0, or the whole seconds until this address may try again. */
  addressWait(address: string): number {
    return this.wait(this.byAddress, address);
  }

  /** 0, or the whole seconds until a failure for this key id is answered 401 again rather than 429. */
  keyIdWait(keyId: string): number {
    return this.wait(this.byKeyId, keyId);
  }

  /** Counts a failed authentication from `address`, for `keyId` when the presented key named one. */
  failed(address: string, keyId: string | undefined): void {
    this.count(this.byAddress, address);
    if (keyId === undefined) return;
    const window = this.count(this.byKeyId, keyId);
    if (window.addresses!.size < MAX_ADDRESSES_PER_KEY) window.addresses!.add(address);
    if (window.failures === this.maxFailures) {
      this.onRepeatedFailures?.({ keyId, failures: window.failures, windowMs: this.windowMs, addresses: window.addresses!.size });
    }
  }

  /** Entries tracked now (addresses, key ids); for tests of the bound. */
  get tracked(): { addresses: number; keyIds: number } {
    return { addresses: this.byAddress.size, keyIds: this.byKeyId.size };
  }

  private wait(table: Map<string, Window>, name: string): number {
    const window = table.get(name);
    if (!window || window.failures < this.maxFailures) return 0;
    const left = window.start + this.windowMs - this.now();
    return left <= 0 ? 0 : Math.ceil(left / 1000);
  }

  private count(table: Map<string, Window>, name: string): Window {
    const now = this.now();
    let window = table.get(name);
    if (!window || now - window.start >= this.windowMs) {
      // Re-inserted, so the table's order stays that of window starts (oldest first) for eviction.
      table.delete(name);
      this.makeRoom(table, now);
      window = { start: now, failures: 0, ...(table === this.byKeyId ? { addresses: new Set<string>() } : {}) };
      table.set(name, window);
    }
    window.failures += 1;
    return window;
  }

  private makeRoom(table: Map<string, Window>, now: number): void {
    if (table.size < this.maxTracked) return;
    for (const [name, window] of table) {
      if (now - window.start < this.windowMs) break;
      table.delete(name);
    }
    // Still full of live windows: forget the oldest rather than grow.
    while (table.size >= this.maxTracked) table.delete(table.keys().next().value as string);
  }
}

/**
 * The address a client's failures are counted under: the TCP peer (X-Forwarded-For is not
 * trusted, so a client cannot pick its own), IPv4-mapped IPv6 as IPv4, and other IPv6
 * addresses by their /64, which one subscriber usually holds whole.
 */
export function clientAddressKey(remoteAddress: string | undefined): string {
  if (!remoteAddress) return "unknown";
  if (remoteAddress.startsWith("::ffff:") && remoteAddress.includes(".")) return remoteAddress.slice(7);
  if (!remoteAddress.includes(":")) return remoteAddress;
  const [head = "", tail] = remoteAddress.split("%")[0]!.split("::");
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? front : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill("0"), ...back];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(":")}::/64`;
}
