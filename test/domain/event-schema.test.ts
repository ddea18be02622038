/**
 * The event schema (server/domain/event-schema.ts) checks each string field's rules as
 * one predicate, for speed, and leaves the refusals to the plain zod chain of the same
 * rules. This holds it to the same schema built from plain chains (eventSchemaOf
 * plainString): the same verdict, the same data and the same issues for any event, and
 * the same JSON Schema (the OpenAPI description's).
 */
import { expect } from "chai";
import fc from "fast-check";
import { z } from "zod";
import { eventFactory } from "../../bench/events";
import { eventSchema, eventSchemaOf, plainString } from "../../server/domain/event-schema";

/** The same schema with each string rule its own zod check. */
const plain = eventSchemaOf(plainString);
const outcome = (result: { success: boolean; data?: unknown; error?: { issues: unknown[] } }) => (result.success ? { data: result.data } : { issues: result.error!.issues });

// Strings near every rule's bounds, with controls, letters of other scripts, astral characters and wrong types.
const unit = fc.constantFrom("a", "Z", "7", "-", "/", "中", "é", " ", "\u0000", "\u001f", "\u007f", "\n", "😀", "!", "$");
const fieldValue = fc.oneof(
  fc.string({ unit, maxLength: 6 }),
  fc.integer({ min: 100, max: 600 }).chain((n) => fc.tuple(fc.constant(n), unit).map(([length, c]) => c.repeat(length))),
  fc.constantFrom(128, 129, 256, 257, 512, 513).map((n) => "x".repeat(n)),
  fc.constantFrom(undefined, null, 7, true, ["a"], { a: 1 }),
);
const STRING_PATHS = [["actor", "operator"], ["actor", "system"], ["actor", "org"], ["dataset"], ["purpose"], ["legalBasis"], ["requestId"], ["subject"], ["occurredAt"], ["fields", 0], ["fields", 1], ["attributes", "k"], ["recipient", "org"], ["type"]];

describe("domain: the event schema", function () {
  it("gives the plain chains' verdict, data and issues for events with any field changed", function () {
    const make = eventFactory("schema", 11);
    fc.assert(
      fc.property(fc.nat(10_000), fc.array(fc.tuple(fc.constantFrom(...STRING_PATHS), fieldValue), { minLength: 1, maxLength: 3 }), fc.option(fc.string({ unit, maxLength: 4 })), (i, changes, attributeKey) => {
        const event = structuredClone(make(i)) as Record<string, any>;
        event.attributes = attributeKey === null ? { k: "v", n: 3 } : { [attributeKey]: "v", k: 1 };
        for (const [path, value] of changes) {
          let at = event;
          for (const key of path.slice(0, -1)) at = at[key as string] ??= {};
          at[path.at(-1)!] = value;
        }
        expect(outcome(eventSchema.safeParse(event))).to.deep.equal(outcome(plain.safeParse(event)));
      }),
      { numRuns: 1_000 },
    );
  });

  it("accepts the benchmark's events as the plain chains do", function () {
    const make = eventFactory("schema-valid", 3);
    for (let i = 0; i < 500; i++) expect(eventSchema.safeParse(make(i))).to.deep.equal(plain.safeParse(make(i)));
  });

  it("has the plain chains' JSON Schema", function () {
    const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
    expect(jsonSchema(eventSchema)).to.deep.equal(jsonSchema(plain));
  });
});
