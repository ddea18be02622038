import { z } from "zod";
import { ORG_PATTERN } from "./divisions";

/**
 * The provenance event a department system submits (DESIGN.md, "An event").
 * Attacker-controlled input: every object is strict (unknown fields rejected) and
 * every string and array is bounded, so a request cannot grow the log unboundedly.
 */

export const EVENT_TYPES = ["collect", "access", "share", "use", "modify", "export", "delete"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must not contain control characters");

const identifier = text(128).regex(/^[\p{L}\p{N}._:\/@#-]+$/u, "letters, digits and . _ : / @ # - only");

const orgId = z
  .string()
  .regex(ORG_PATTERN, "organisation id `<12-digit division code>[-G<grid>]:<department>`, e.g. 330102003004:civil-affairs");

/** RFC 3339 date-time with an explicit offset, as JSON (no numbers for times). */
const rfc3339 = z.iso.datetime({ offset: true, precision: undefined });

const attributeValue = z.union([text(256), z.number().int().min(-(2 ** 53 - 1)).max(2 ** 53 - 1), z.boolean()]);

export const eventSchema = z
  .strictObject({
    type: z.enum(EVENT_TYPES),
    actor: z.strictObject({
      org: orgId,
      system: identifier,
      operator: identifier.describe("pseudonymous operator id; never a real name"),
    }),
    dataset: identifier.describe("data catalogue id"),
    subject: text(256).optional().describe("data subject id; pseudonymised by the gateway, never stored in the clear"),
    recipient: z.strictObject({ org: orgId }).optional(),
    purpose: text(512),
    legalBasis: text(512),
    fields: z.array(identifier).min(1).max(256),
    occurredAt: rfc3339,
    requestId: identifier.describe("idempotency key, unique per submitter"),
    attributes: z
      .record(identifier, attributeValue)
      .refine((a) => Object.keys(a).length <= 32, "at most 32 attributes")
      .optional(),
  })
  .superRefine((event, ctx) => {
    if (event.type === "share" && !event.recipient) {
      ctx.addIssue({ code: "custom", path: ["recipient"], message: "a share needs a recipient" });
    }
  });

export type ProvenanceEvent = z.infer<typeof eventSchema>;

export const MAX_EVENTS_PER_REQUEST = 1000;

export const eventBatchSchema = z.strictObject({
  events: z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_REQUEST),
});

/** The event as stored: the subject replaced by its keyed pseudonym. */
export type StoredEvent = Omit<ProvenanceEvent, "subject"> & { subjectRef?: string };
