/**
 * The kinds of alert, as ALERT_KINDS of server/alerts/alert-store.ts: not imported
 * from there because that module is the server's storage (LevelDB, node:events).
 * A test keeps the two lists equal.
 */
export const ALERT_KINDS = ["negative-list", "threshold", "anchoring", "policy", "auth"] as const;
