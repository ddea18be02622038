import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { readFile, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { EMPTY_POLICY, parsePolicyText, PolicyError, type Policy, type PolicyIssue } from "./policy";

/**
 * The policy in force, read from a JSON file and reloaded when the file changes:
 * its metadata (inode, size, times) is polled and compared with what was last
 * read, which also follows editors that replace the file by rename, and a
 * change is debounced before the reload. A file that fails to read or validate keeps the previous
 * policy in force: the problem is logged, reported once per distinct content
 * through `onInvalid` (which raises a `policy` alert) and shown by `status()`.
 * At boot an unreadable or invalid file is an error: the gateway does not start
 * with a policy other than the one configured. Without a file: the empty policy.
 */

export interface PolicyStatus {
  file?: string;
  /** When the policy in force was loaded, and the SHA-256 of its file. */
  loadedAt?: string;
  sha256?: string;
  rules: number;
  webhooks: number;
  /** The last reload that failed, while the file still holds that content. */
  error?: { message: string; issues: PolicyIssue[]; at: string };
}

export interface PolicySourceOptions {
  file?: string;
  logger: Logger;
  /** Called once per distinct bad content (or missing file) seen by a reload. */
  onInvalid?: (error: PolicyError) => unknown;
  /** How often the file's metadata is checked (default 1000 ms) and how long changes settle before reloading (default 200 ms). */
  pollMs?: number;
  debounceMs?: number;
  /** Larger files are refused (default 1 MiB). */
  maxBytes?: number;
  now?: () => Date;
}

export class PolicySource extends EventEmitter {
  private policy: Policy = EMPTY_POLICY;
  private loadedAt?: string;
  private appliedHash?: string;
  /** Hash (or read error) of the last content looked at, applied or not, so the same bad file is reported once. */
  private seenHash?: string;
  private error?: PolicyStatus["error"];
  /** Metadata of the file as last seen (by a poll or a read); a difference means it changed. */
  private seenStat?: string;
  private debounce?: NodeJS.Timeout;
  private poller?: NodeJS.Timeout;
  private polling = false;
  private reloading: Promise<boolean> = Promise.resolve(false);
  private readonly file?: string;
  private readonly o: PolicySourceOptions & { pollMs: number; debounceMs: number; maxBytes: number; now: () => Date };

  private constructor(options: PolicySourceOptions) {
    super();
    this.o = {
      ...options,
      pollMs: options.pollMs ?? 1000,
      debounceMs: options.debounceMs ?? 200,
      maxBytes: options.maxBytes ?? 1 << 20,
      now: options.now ?? (() => new Date()),
    };
    this.file = options.file === undefined ? undefined : path.resolve(options.file);
  }

  /** Loads the file (throws PolicyError when it cannot be read or is invalid) and starts watching it. */
  static async open(options: PolicySourceOptions): Promise<PolicySource> {
    const source = new PolicySource(options);
    if (source.file === undefined) return source;
    const read = await source.read();
    if ("error" in read) throw read.error;
    source.apply(read.policy, read.hash);
    source.o.logger.info({ file: source.file, rules: read.policy.negativeList.length, sha256: read.hash }, "alert policy loaded");
    source.poller = setInterval(() => void source.poll(), source.o.pollMs).unref();
    return source;
  }

  current(): Policy {
    return this.policy;
  }

  status(): PolicyStatus {
    return {
      file: this.file,
      loadedAt: this.loadedAt,
      sha256: this.appliedHash,
      rules: this.policy.negativeList.length,
      webhooks: this.policy.webhooks.length,
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /**
   * Reads the file again now. Resolves true when a new policy was applied, false
   * when the content is unchanged or invalid (the previous policy stays).
   */
  reload(): Promise<boolean> {
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.catch(() => false);
    return run;
  }

  stop(): void {
    clearInterval(this.poller);
    clearTimeout(this.debounce);
    this.poller = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.file === undefined) return;
    this.polling = true;
    try {
      const current = await stat(this.file).then(signature, (error: NodeJS.ErrnoException) => `error:${error.code}`);
      if (current === this.seenStat || this.poller === undefined) return;
      this.seenStat = current;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.reload(), this.o.debounceMs).unref();
    } finally {
      this.polling = false;
    }
  }

  private async reloadNow(): Promise<boolean> {
    if (this.file === undefined) return false;
    const read = await this.read();
    if (read.hash === this.seenHash) return false;
    this.seenHash = read.hash;
    if ("error" in read) {
      this.error = { message: read.error.message, issues: read.error.issues, at: this.o.now().toISOString() };
      this.o.logger.warn({ file: this.file, issues: read.error.issues }, `${read.error.message}; keeping the previous policy`);
      this.emit("invalid", read.error);
      try {
        await this.o.onInvalid?.(read.error);
      } catch (error) {
        this.o.logger.error({ err: error }, "could not report the invalid policy");
      }
      return false;
    }
    this.error = undefined;
    if (read.hash === this.appliedHash) return false;
    this.apply(read.policy, read.hash);
    this.o.logger.info({ file: this.file, rules: read.policy.negativeList.length, sha256: read.hash }, "alert policy reloaded");
    this.emit("changed", read.policy);
    return true;
  }

  private apply(policy: Policy, hash: string): void {
    this.policy = policy;
    this.appliedHash = hash;
    this.seenHash = hash;
    this.loadedAt = this.o.now().toISOString();
  }

  private async read(): Promise<{ policy: Policy; hash: string } | { error: PolicyError; hash: string }> {
    const file = this.file!;
    let text: string;
    try {
      const info = await stat(file);
      this.seenStat = signature(info);
      if (info.size > this.o.maxBytes) {
        const error = new PolicyError(`policy file ${file} is ${info.size} bytes; at most ${this.o.maxBytes}`, [{ path: "", message: "file too large" }]);
        return { error, hash: `too-large:${info.size}:${info.mtimeMs}` };
      }
      text = await readFile(file, "utf8");
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? "EIO";
      this.seenStat = `error:${code}`;
      const error = new PolicyError(`cannot read policy file ${file} (${code})`, [{ path: "", message: `cannot read the file (${code})` }], { cause });
      return { error, hash: `unreadable:${code}` };
    }
    const hash = createHash("sha256").update(text, "utf8").digest("hex");
    try {
      return { policy: parsePolicyText(text), hash };
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      return { error: new PolicyError(`policy file ${file}: ${error.message}`, error.issues, { cause: error }), hash };
    }
  }
}

/**
 * `text` without the policy file's path: a refused reload's message names the file
 * ("policy file /etc/…/policy.json: …"), and where the server keeps its files is no
 * business of those who read the policy's status or its alerts. The name goes, the reason stays.
 */
export function withoutPolicyPath(text: string, file: string | undefined): string {
  return file === undefined ? text : text.split(` ${file}`).join("").split(file).join("the policy file");
}

function signature(info: Stats): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}
