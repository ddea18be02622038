import { z } from "zod";
import { canonicalJson } from "../domain/envelope";
import { eventSchema } from "../domain/event-schema";

/**
 * The shape a monitor holds each entry to (DESIGN.md, "Leaf bytes"): RFC 8785 JSON of
 * `{ v: 1, log, index, receivedAt, submitter, event }`, naming this log and its own index,
 * the event valid as submitted events are, its subject only as a 0x-hex HMAC. Pure; returns
 * the problem, or undefined. Entries come from the gateway: parsed defensively.
 */
const HEX32 = /^0x[0-9a-f]{64}$/;
// One decoder for all entries: making one per entry cost as much as the parse.
const UTF8 = new TextDecoder("utf-8", { fatal: true });

const envelopeSchema = z.strictObject({
  v: z.literal(1),
  log: z.string().regex(HEX32),
  index: z.number().int().min(0),
  receivedAt: z.string().datetime({ offset: true }),
  submitter: z.string().min(1).max(128),
  event: z.record(z.string(), z.unknown()),
});

export function envelopeProblem(entry: Uint8Array, leafIndex: number, logId: string): string | undefined {
  let text: string;
  let value: unknown;
  try {
    text = UTF8.decode(entry);
    value = JSON.parse(text);
  } catch {
    return "not UTF-8 JSON";
  }
  if (canonicalJson(value) !== text) return "not in RFC 8785 canonical form";
  const parsed = envelopeSchema.safeParse(value);
  if (!parsed.success) return `not an envelope: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ").slice(0, 300)}`;
  const envelope = parsed.data;
  if (envelope.index !== leafIndex) return `envelope names index ${envelope.index}, want ${leafIndex}`;
  if (envelope.log !== logId.toLowerCase()) return `envelope names log ${envelope.log}, want ${logId.toLowerCase()}`;
  const { subjectRef, ...event } = envelope.event as Record<string, unknown>;
  if (subjectRef !== undefined && (typeof subjectRef !== "string" || !HEX32.test(subjectRef))) return "event.subjectRef is not 0x + 64 hex digits";
  const checked = eventSchema.safeParse(event);
  if (!checked.success) return `event: ${checked.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ").slice(0, 300)}`;
  return undefined;
}
