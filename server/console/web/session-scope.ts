/**
 * What the signed-in key covers, for the header: its role and the division of
 * its jurisdiction by name and code (GET /v1/whoami, the name from the
 * registry GET /v1/orgs). Asked once per key; a gateway without /v1/whoami
 * leaves the header with the key id only.
 */
import { call } from "./api";
import { t, tEnum } from "./i18n/i18n";

export interface KeyScope {
  id: string;
  name: string;
  role: string;
  jurisdiction?: string;
  divisionName?: string;
}

const asked = new Map<string, Promise<KeyScope | undefined>>();

export function keyScope(key: string): Promise<KeyScope | undefined> {
  let scope = asked.get(key);
  if (!scope) {
    scope = loadScope(key);
    asked.set(key, scope);
  }
  return scope;
}

async function loadScope(key: string): Promise<KeyScope | undefined> {
  const me = await call<{ key: Omit<KeyScope, "divisionName"> }>("/v1/whoami", { key }).then((a) => a.body.key, () => undefined);
  if (!me?.jurisdiction) return me;
  const registry = await call<{ divisions: { code: string; name: string }[] }>("/v1/orgs", { key, query: { division: me.jurisdiction } }).then((a) => a.body, () => undefined);
  return { ...me, divisionName: registry?.divisions.find((d) => d.code === me.jurisdiction)?.name };
}

/** "监管机构 · 上城区（330102000000）" / "Regulator · Shangcheng District (330102000000)". */
export function describeScope(scope: KeyScope): string {
  const role = tEnum("role", scope.role);
  if (!scope.jurisdiction) return t("session.scopeAll", { role });
  if (!scope.divisionName) return t("session.scopeCode", { role, code: scope.jurisdiction });
  return t("session.scope", { role, division: scope.divisionName, code: scope.jurisdiction });
}
