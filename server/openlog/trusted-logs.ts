import { z } from "zod";
import { OpenLogError } from "./errors";

/**
 * The log list (DESIGN.md, "Trust anchors"): `{ version: 1, logs: [{ logId, chainId,
 * contract, name, division, noteKey? }] }`, given out of band. A minimal parser for the
 * monitor; unknown fields are allowed (the list may grow). Lowercases ids.
 */
export interface TrustedLog {
  logId: string;
  chainId: number;
  contract: string;
  name: string;
  division: string;
  noteKey?: string;
}

const listSchema = z.object({
  version: z.literal(1),
  logs: z
    .array(
      z.object({
        logId: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
        chainId: z.number().int().positive(),
        contract: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
        name: z.string(),
        division: z.string(),
        noteKey: z.string().optional(),
      }),
    )
    .min(1),
});

export function parseTrustedLogs(text: string, source = "log list"): TrustedLog[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new OpenLogError({ code: "UNTRUSTED_LOG", message: `${source} is not JSON: ${(error as Error).message}` });
  }
  const parsed = listSchema.safeParse(value);
  if (!parsed.success) {
    throw new OpenLogError({ code: "UNTRUSTED_LOG", message: `${source}: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}` });
  }
  return parsed.data.logs.map((log) => ({ ...log, logId: log.logId.toLowerCase(), contract: log.contract.toLowerCase() }));
}
