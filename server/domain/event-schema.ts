import { z } from "zod";
import { ORG_PATTERN } from "./divisions";

/**
 * The provenance event a department system submits (DESIGN.md, "An event").
 * Attacker-controlled input: every object is strict (unknown fields rejected) and
 * every string and array is bounded, so a request cannot grow the log unboundedly.
 */

export const EVENT_TYPES = ["collect", "access", "share", "use", "modify", "export", "delete"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL_CHARACTER.test(s), "must not contain control characters");

// The pattern admits no control character, so identifiers need not check for them apart.
const identifier = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\p{L}\p{N}._:\/@#-]+$/u, "letters, digits and . _ : / @ # - only");

const orgId = z
  .string()
  .regex(ORG_PATTERN, "organisation id `<12-digit division code>[-G<grid>]:<department>`, e.g. 330102003004:civil-affairs");

/** RFC 3339 date-time with an explicit offset, as JSON (no numbers for times). */
const rfc3339 = z.iso.datetime({ offset: true, precision: undefined });

const attributeValue = z.union([text(256), z.number().int().min(-(2 ** 53 - 1)).max(2 ** 53 - 1), z.boolean()]);

/**
 * The keys of every object are listed in RFC 8785 order (UTF-16 code units), and zod
 * outputs them in this order: so a validated event is already in canonical key order and
 * canonicalJson (domain/envelope.ts) serialises it without making a sorted copy, which
 * was a large share of the ingest path's allocations. Only `attributes` keeps the
 * client's order.
 */
export const eventSchema = z
  .strictObject({
    actor: z.strictObject({
      operator: identifier.describe("pseudonymous operator id; never a real name"),
      org: orgId,
      system: identifier,
    }),
    attributes: z
      .record(identifier, attributeValue)
      .refine((a) => Object.keys(a).length <= 32, "at most 32 attributes")
      .optional(),
    dataset: identifier.describe("data catalogue id"),
    fields: z.array(identifier).min(1).max(256),
    legalBasis: text(512),
    occurredAt: rfc3339,
    purpose: text(512),
    recipient: z.strictObject({ org: orgId }).optional(),
    requestId: identifier.describe("idempotency key, unique per submitter"),
    subject: text(256).optional().describe("data subject id; pseudonymised by the gateway, never stored in the clear"),
    type: z.enum(EVENT_TYPES),
  })
  .refine((event) => event.type !== "share" || event.recipient !== undefined, { path: ["recipient"], message: "a share needs a recipient" });

export type ProvenanceEvent = z.infer<typeof eventSchema>;

export const MAX_EVENTS_PER_REQUEST = 1000;

/** The event as stored: the subject replaced by its keyed pseudonym. */
export type StoredEvent = Omit<ProvenanceEvent, "subject"> & { subjectRef?: string };
