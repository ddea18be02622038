/**
 * Demo keys on first start, on a real LevelDB: the file holds five working keys and
 * is private; a start interrupted after the file was written but before the keys
 * were stored loses nothing — the next start makes a new set that works and
 * replaces the file; and a store that already has keys gets none.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createDemoKeysOnFirstStart } from "../../server/auth/demo-keys";
import { KeyStore } from "../../server/auth/key-store";
import { openDatabase, type Database } from "../../server/store/database";

const DIVISION = "330102000000";
type KeysFile = Record<"admin" | "submitter" | "auditor" | "regulator" | "citizenPortal", { key: string; record: { id: string; role: string } }>;

describe("auth: demo keys on first start", () => {
  let dir: string;
  let db: Database;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "demo-keys-"));
    db = await openDatabase(path.join(dir, "db"));
  });
  afterEach(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const readKeysFile = (): KeysFile => JSON.parse(fs.readFileSync(path.join(dir, "keys.json"), "utf8"));

  it("writes five working keys to a private keys.json, and none on later starts", async () => {
    const keys = await KeyStore.open(db);
    expect(await createDemoKeysOnFirstStart(keys, dir, DIVISION)).to.deep.equal({ file: path.join(dir, "keys.json"), created: true });
    const file = readKeysFile();
    expect(fs.statSync(path.join(dir, "keys.json")).mode & 0o777).to.equal(0o600);
    const reopened = await KeyStore.open(db);
    for (const [name, role] of [["admin", "admin"], ["submitter", "submitter"], ["auditor", "auditor"], ["regulator", "regulator"], ["citizenPortal", "citizen-portal"]] as const) {
      expect(reopened.authenticate(file[name].key).role, name).to.equal(role);
    }
    expect(await createDemoKeysOnFirstStart(reopened, dir, DIVISION)).to.deep.equal({ file: path.join(dir, "keys.json"), created: false });
    expect(readKeysFile()).to.deep.equal(file);
    expect(fs.readdirSync(dir).filter((name) => name.endsWith(".tmp"))).to.deep.equal([]);
  });

  it("after a start that wrote keys.json but died before storing the keys, the next start makes a working set", async () => {
    // The interrupted start: the file is written, the store's write never happens.
    const interrupted = await KeyStore.open(db);
    const batch = db.batch.bind(db);
    (db as unknown as { batch: unknown }).batch = () => Promise.reject(new Error("killed before the keys were stored"));
    let failure: Error | undefined;
    try {
      await createDemoKeysOnFirstStart(interrupted, dir, DIVISION);
    } catch (error) {
      failure = error as Error;
    } finally {
      (db as unknown as { batch: unknown }).batch = batch;
    }
    expect(failure?.message).to.equal("killed before the keys were stored");
    const lost = readKeysFile();

    const keys = await KeyStore.open(db);
    expect(keys.list(), "no key was stored").to.deep.equal([]);
    expect(() => keys.authenticate(lost.admin.key)).to.throw();
    expect((await createDemoKeysOnFirstStart(keys, dir, DIVISION)).created).to.equal(true);
    const fresh = readKeysFile();
    expect(fresh.admin.key).to.not.equal(lost.admin.key);
    expect((await KeyStore.open(db)).authenticate(fresh.admin.key).role).to.equal("admin");
  });
});
