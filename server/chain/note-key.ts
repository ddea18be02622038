import { Contract, type JsonRpcProvider, type Wallet } from "ethers";
import { LEDGER_ABI } from "./ledger-abi";

/**
 * Registers the log's Ed25519 note key in the contract (`setLogNoteKey`), so that monitors
 * check checkpoint notes against a key the chain holds. Done at every start, and a no-op
 * when the chain already has this key. The gateway's wallet needs the log admin role: it has
 * it on the embedded chain (it deployed the contract); on an external chain a log admin may
 * have to do it, and the message says how.
 */

export type NoteKeyRegistration =
  | { status: "registered" | "unchanged" }
  | { status: "not-allowed" | "failed"; message: string };

export interface RegisterNoteKeyParameters {
  provider: JsonRpcProvider;
  wallet: Wallet;
  contract: string;
  logId: string;
  publicKey: Uint8Array;
  rpcUrl: string;
  timeoutMs?: number;
}

export async function registerNoteKey(p: RegisterNoteKeyParameters): Promise<NoteKeyRegistration> {
  const key = "0x" + Buffer.from(p.publicKey).toString("hex");
  const ledger = new Contract(p.contract, LEDGER_ABI, p.wallet.connect(p.provider));
  const howTo = `a log admin can run: cast send ${p.contract} "setLogNoteKey(bytes32,bytes32)" ${p.logId} ${key} --rpc-url ${p.rpcUrl} --private-key <log admin key>`;
  const attempt = async (): Promise<NoteKeyRegistration> => {
    if (((await ledger.logNoteKey(p.logId)) as string).toLowerCase() === key) return { status: "unchanged" };
    const role = (await ledger.LOG_ADMIN_ROLE()) as string;
    if (!(await ledger.hasRole(role, p.wallet.address))) {
      return { status: "not-allowed", message: `the log's note key ${key} is not registered in the contract and ANCHOR_PRIVATE_KEY's address ${p.wallet.address} lacks the log admin role; ${howTo}` };
    }
    await (await ledger.setLogNoteKey(p.logId, key)).wait();
    return { status: "registered" };
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      attempt(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${p.timeoutMs ?? 15_000} ms`)), p.timeoutMs ?? 15_000))),
    ]);
  } catch (error) {
    return { status: "failed", message: `cannot register the log's note key ${key} in the contract (${(error as Error).message}); the next start tries again, or ${howTo}` };
  } finally {
    clearTimeout(timer);
  }
}
