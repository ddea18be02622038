import { existsSync } from "node:fs";
import path from "node:path";
import type { KeyStore } from "./key-store";
import { writeFileAtomically } from "../store/atomic-file";

/**
 * Demo API keys for local use, made on the first start in an empty data directory
 * and handed out in DATA_DIR/keys.json (mode 0600). The file is written, synced and
 * renamed into place before the keys are stored (one synced batch): a crash in
 * between leaves no key whose secret is lost — the next start finds no key and
 * makes a new set, overwriting the file.
 */
export async function createDemoKeysOnFirstStart(keys: KeyStore, dataDir: string, division: string): Promise<{ file?: string; created: boolean }> {
  const file = path.join(dataDir, "keys.json");
  if (keys.list().length > 0) return { file: existsSync(file) ? file : undefined, created: false };
  await keys.createAll(
    [
      { name: "local admin", role: "admin" },
      { name: "demo department system", role: "submitter", jurisdiction: division },
      { name: "demo auditor", role: "auditor" },
      { name: "demo regulator", role: "regulator", jurisdiction: division },
      { name: "demo citizen portal", role: "citizen-portal" },
    ],
    ([admin, submitter, auditor, regulator, citizenPortal]) => {
      const note = "Demo API keys for local use only, created on first start. Only their hashes are in the database; create real keys with `npx ledger keys create`.";
      writeFileAtomically(file, JSON.stringify({ note, admin, submitter, auditor, regulator, citizenPortal }, null, 2) + "\n");
    },
  );
  return { file, created: true };
}
