/**
 * The monitor's webhook alerts: a divergence is POSTed to the webhooks of a gateway policy
 * file (POLICY_FILE's format) as the gateway posts its own alerts — `{ "alert": … }`, signed
 * with `X-Ledger-Signature: sha256=<HMAC-SHA256(secret, body)>`, an `X-Ledger-Delivery` id
 * to deduplicate on — with kind `monitor` and the divergence's size, tile and hashes. The
 * monitor has no outbox: it tries each webhook a few times, then says which it could not reach.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parsePolicyText } from "../server/alerts/policy";
import { DELIVERY_HEADER, SIGNATURE_HEADER, redactUrl, signature } from "../server/alerts/webhooks";
import type { OpenLogError } from "../server/openlog/errors";
import { CliError } from "./cli-support";

export interface MonitorAlert {
  id: string;
  kind: "monitor";
  severity: "critical";
  code: string;
  message: string;
  logId?: string;
  treeSize?: number;
  tile?: string;
  expected?: string;
  found?: string;
  createdAt: string;
}

export function readWebhooks(policyFile: string): { url: string; secret?: string }[] {
  try {
    return parsePolicyText(readFileSync(policyFile, "utf8")).webhooks;
  } catch (error) {
    throw new CliError(`cannot use the policy ${policyFile} for alerts: ${(error as Error).message}`, 2);
  }
}

/** Posts the alert to every webhook (3 tries each); returns the problems, one line per failed webhook. */
export async function raiseMonitorAlert(webhooks: readonly { url: string; secret?: string }[], error: OpenLogError, logId: string | undefined, retryMs = 500): Promise<string[]> {
  const alert: MonitorAlert = {
    id: randomBytes(8).toString("hex"),
    kind: "monitor",
    severity: "critical",
    code: error.code,
    message: error.message,
    logId,
    treeSize: error.treeSize,
    tile: error.tile,
    expected: error.expected,
    found: error.found,
    createdAt: new Date().toISOString(),
  };
  const body = JSON.stringify({ alert });
  const problems: string[] = [];
  await Promise.all(
    webhooks.map(async (webhook) => {
      const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "provenance-ledger-monitor/1", [DELIVERY_HEADER]: alert.id };
      if (webhook.secret !== undefined) headers[SIGNATURE_HEADER] = signature(webhook.secret, body);
      let last = "";
      for (let attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, retryMs * 2 ** (attempt - 1)));
        try {
          const response = await fetch(webhook.url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(10_000) });
          await response.body?.cancel().catch(() => undefined);
          if (response.status >= 200 && response.status < 300) return;
          last = `HTTP ${response.status}`;
        } catch (caught) {
          last = (caught as Error).message;
        }
      }
      problems.push(`alert not delivered to ${redactUrl(webhook.url)}: ${last}`);
    }),
  );
  return problems;
}
