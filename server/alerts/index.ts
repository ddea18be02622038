import type { EventEmitter } from "node:events";
import type express from "express";
import type { Logger } from "pino";
import type { Database } from "../store/database";
import { AlertObserver } from "./alert-observer";
import { AlertStore } from "./alert-store";
import { PolicySource, withoutPolicyPath } from "./policy-source";
import type { Severity } from "./policy";
import { createAlertRoutes } from "./routes";
import { WebhookDeliverer, type WebhookDelivererOptions } from "./webhooks";
import type { RepeatedFailures } from "../api/auth-throttle";

export { AlertObserver } from "./alert-observer";
export { AlertStore, ALERT_KINDS, canSeeAlert, GATEWAY_WIDE, type Acknowledgement, type Alert, type AlertKind, type AlertPage, type AlertQuery, type NewAlert } from "./alert-store";
export { PolicySource, type PolicyStatus } from "./policy-source";
export { EMPTY_POLICY, parsePolicy, parsePolicyText, PolicyError, redactPolicy, violations, type Policy, type Violation } from "./policy";
export { WebhookDeliverer, signature, type Delivery } from "./webhooks";
export { createAlertRoutes } from "./routes";

/**
 * Starts the alerting: the policy (fails fast on an unreadable or invalid
 * file), the durable store, the observer for the event indexer, the webhook
 * deliverer, and anchoring problems turned into alerts. The caller registers
 * `observer` with the event indexer, mounts `routes` under /v1 (after
 * authenticate), and calls `stop()` before closing the database.
 */

export interface StartAlertsParameters {
  db: Database;
  /** JSON policy file (config/policy.example.json); without one, the empty policy. */
  policyFile?: string;
  logger: Logger;
  /** The anchorer, whose "problem" events become `anchoring` alerts. */
  anchorer?: Pick<EventEmitter, "on" | "off">;
  /** Polling interval of the policy file (default 1000 ms). */
  policyPollMs?: number;
  /** The jurisdiction of a regulator key by id, for acknowledgements stored before they had scopes (alert-store.ts). */
  jurisdictionOfKey?: (keyId: string) => string | undefined;
  /** Retry and timeout settings of webhook delivery. */
  webhooks?: Pick<WebhookDelivererOptions, "maxAttempts" | "baseDelayMs" | "maxDelayMs" | "timeoutMs" | "idleMs">;
}

export interface Alerts {
  observer: AlertObserver;
  store: AlertStore;
  policySource: PolicySource;
  deliverer: WebhookDeliverer;
  routes: express.Router;
  /** Raises the `auth` alert for a key id that failed to authenticate repeatedly (the throttle calls it once per window). */
  repeatedAuthFailures(report: RepeatedFailures & { keyName?: string }): void;
  stop(): Promise<void>;
}

/** The anchorer's problem states and how grave they are. */
const ANCHORING_SEVERITY: Record<string, Severity> = {
  diverged: "critical",
  rejected: "critical",
  reorganised: "warning",
  dropped: "warning",
  "chain-unreachable": "warning",
};

export async function startAlerts({ db, policyFile, logger, anchorer, policyPollMs, jurisdictionOfKey, webhooks }: StartAlertsParameters): Promise<Alerts> {
  const log = logger.child({ module: "alerts" });
  const store = await AlertStore.open(db, { jurisdictionOfKey });
  const report = (what: string, created: Promise<unknown>) => {
    created.catch((error) => log.error({ err: error }, `could not record the ${what} alert`));
  };

  const policySource = await PolicySource.open({
    file: policyFile,
    logger: log,
    pollMs: policyPollMs,
    onInvalid: (error) =>
      report("policy", store.create({ kind: "policy", severity: "warning", message: `the policy file changed but was refused; the previous policy stays in force. ${withoutPolicyPath(error.message, policyFile)}` })),
  });
  store.setWebhooks(() => policySource.current().webhooks);

  const observer = new AlertObserver({ db, store, policy: () => policySource.current(), logger: log });
  const deliverer = new WebhookDeliverer({ store, webhooks: () => policySource.current().webhooks, logger: log.child({ part: "webhooks" }), ...webhooks });
  deliverer.start();

  const onProblem = (problem: { state?: string; message?: string }) => {
    const state = String(problem?.state ?? "unknown");
    report("anchoring", store.create({ kind: "anchoring", ruleId: state, severity: ANCHORING_SEVERITY[state] ?? "warning", message: `anchoring ${state}: ${problem?.message ?? ""}`.trim() }));
  };
  anchorer?.on("problem", onProblem);

  let stopping: Promise<void> | undefined;
  return {
    observer,
    store,
    policySource,
    deliverer,
    routes: createAlertRoutes({ alerts: store, policy: policySource }),
    // Built from counts and the key's id and name only: never from what was presented.
    repeatedAuthFailures: ({ keyId, keyName, failures, windowMs, addresses }) =>
      report(
        "auth",
        store.create({
          kind: "auth",
          ruleId: "repeated-failures",
          severity: "warning",
          message: `${failures} failed authentications for key ${keyId}${keyName ? ` (${JSON.stringify(keyName)})` : ""} within ${Math.round(windowMs / 1000)} s, from ${addresses}${addresses >= 16 ? " or more" : ""} address${addresses === 1 ? "" : "es"}; further failures for it are answered 429 until the window ends`,
        }),
      ),
    stop: () =>
      (stopping ??= (async () => {
        anchorer?.off("problem", onProblem);
        policySource.stop();
        await deliverer.stop();
        await store.settled();
      })()),
  };
}
