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

/**
 * The rules of a string field: its length in UTF-16 code units (String.length, as zod's
 * min and max count), and optionally a pattern and the absence of control characters.
 */
export interface StringRules {
  min: number;
  max: number;
  pattern?: { regex: RegExp; message: string };
  noControlCharacters?: boolean;
}

/** A string schema checking `rules` as a plain zod chain, one check per rule. */
export function plainString(rules: StringRules) {
  let chain = z.string().min(rules.min).max(rules.max);
  if (rules.pattern) chain = chain.regex(rules.pattern.regex, rules.pattern.message);
  return rules.noControlCharacters ? chain.refine((s) => !CONTROL_CHARACTER.test(s), "must not contain control characters") : chain;
}

/**
 * A string schema checking `rules` as one predicate. Zod runs every check of a chain
 * (`.min().max().regex().refine()`) through its generic machinery, which cost the
 * ingest path over a third of its validation time: a batch of 1,000 events has some
 * 10,000 strings. The chain is still the definition: a string the predicate refuses is
 * checked by the chain, whose issues are reported as they are, and the chain's JSON
 * Schema is the field's (so the OpenAPI description does not change). The predicate
 * and the chain are built from the same rules, and test/domain/event-schema.test.ts
 * holds them to the same verdicts.
 */
function boundedString(rules: StringRules) {
  const checked = plainString(rules);
  const { min, max, pattern, noControlCharacters } = rules;
  const valid = (s: string) =>
    s.length >= min && s.length <= max && (!pattern || pattern.regex.test(s)) && (!noControlCharacters || !CONTROL_CHARACTER.test(s));
  const { $schema: _, ...jsonSchema } = z.toJSONSchema(checked) as Record<string, unknown>;
  return z
    .string()
    .check((payload) => {
      if (valid(payload.value)) return;
      const result = checked.safeParse(payload.value);
      // A chain's string checks never abort (continue: true): later checks and refinements still run.
      if (!result.success) for (const issue of result.error.issues) payload.issues.push({ ...issue, input: payload.value, continue: true } as never);
    })
    .meta(jsonSchema);
}

/** The rules of free text: 1 to `max` characters, no control characters. */
export const TEXT_RULES = (max: number): StringRules => ({ min: 1, max, noControlCharacters: true });

// The pattern admits no control character, so identifiers need not check for them apart.
export const IDENTIFIER_RULES: StringRules = { min: 1, max: 128, pattern: { regex: /^[\p{L}\p{N}._:\/@#-]+$/u, message: "letters, digits and . _ : / @ # - only" } };

const orgId = z
  .string()
  .regex(ORG_PATTERN, "organisation id `<12-digit division code>[-G<grid>]:<department>`, e.g. 330102003004:civil-affairs");

/** RFC 3339 date-time with an explicit offset, as JSON (no numbers for times). */
const rfc3339 = z.iso.datetime({ offset: true, precision: undefined });

/**
 * The event schema with its string fields built by `string` from their rules:
 * boundedString for the gateway (`eventSchema`), plainString for the test that holds the
 * two alike.
 *
 * The keys of every object are listed in RFC 8785 order (UTF-16 code units), and zod
 * outputs them in this order: so a validated event is already in canonical key order and
 * canonicalJson (domain/envelope.ts) serialises it without making a sorted copy, which
 * was a large share of the ingest path's allocations. Only `attributes` keeps the
 * client's order.
 */
export function eventSchemaOf(string: (rules: StringRules) => z.ZodType<string>) {
  const text = (max: number) => string(TEXT_RULES(max));
  const identifier = string(IDENTIFIER_RULES);
  const attributeValue = z.union([text(256), z.number().int().min(-(2 ** 53 - 1)).max(2 ** 53 - 1), z.boolean()]);
  return z
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
}

export const eventSchema = eventSchemaOf(boundedString);

export type ProvenanceEvent = z.infer<typeof eventSchema>;

export const MAX_EVENTS_PER_REQUEST = 1000;

/** The event as stored: the subject replaced by its keyed pseudonym. */
export type StoredEvent = Omit<ProvenanceEvent, "subject"> & { subjectRef?: string };
