/**
 * The policy format and the pure negative-list evaluator: every condition kind
 * matching and not matching, and invalid documents refused with the path of the
 * bad field.
 */
import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import { globRegExp, jurisdictionAt, parsePolicy, parsePolicyText, PolicyError, redactPolicy, violations, type NegativeListRule } from "../../server/alerts/policy";
import { envelope, event, policy, type EventOverrides } from "./helpers";

type RuleBody = Omit<NegativeListRule, "id" | "description" | "severity">;

interface Case {
  name: string;
  rule: RuleBody;
  matches: EventOverrides[];
  passes: EventOverrides[];
}

const CASES: Case[] = [
  {
    name: "datasets (glob)",
    rule: { datasets: ["household-registry*"] },
    matches: [{ dataset: "household-registry" }, { dataset: "household-registry-2024" }],
    passes: [{ dataset: "health-records" }, { dataset: "old-household-registry" }],
  },
  {
    name: "fields (any of the event's fields)",
    rule: { fields: ["id-number", "id-card-*"] },
    matches: [{ fields: ["name", "id-number"] }, { fields: ["id-card-photo"] }],
    passes: [{ fields: ["name", "address"] }, { fields: ["id-number-masked"] }],
  },
  {
    name: "recipient orgs (glob on department)",
    rule: { recipient: { orgs: ["*:commercial-*"] } },
    matches: [{ recipient: { org: "330102000000:commercial-bank" } }, { recipient: { org: "110000000000:commercial-insurer" } }],
    passes: [{ recipient: { org: "330102000000:civil-affairs" } }, { type: "access", recipient: undefined }],
  },
  {
    name: "recipient orgs (division prefix)",
    rule: { recipient: { orgs: ["3301*"] } },
    matches: [{ recipient: { org: "330106000000:health" } }, { recipient: { org: "330100000000:data-bureau" } }],
    passes: [{ recipient: { org: "330201000000:health" } }, { recipient: { org: "310100000000:health" } }],
  },
  {
    name: "recipient levels",
    rule: { recipient: { levels: ["grid"] } },
    matches: [{ recipient: { org: "330102003004-G12:grid-office" } }],
    passes: [{ recipient: { org: "330102003004:community" } }, { recipient: { org: "330102003000:street-office" } }],
  },
  {
    name: "recipient outside the actor's county",
    rule: { recipient: { outsideActorJurisdiction: "county" } },
    matches: [{ recipient: { org: "330110000000:civil-affairs" } }, { recipient: { org: "320102000000:civil-affairs" } }],
    passes: [{ recipient: { org: "330102001000:street-office" } }, { recipient: { org: "330102000000:civil-affairs" } }, { recipient: { org: "330102003004-G7:grid" } }],
  },
  {
    name: "recipient outside the actor's own division when the actor sits above the level",
    rule: { recipient: { outsideActorJurisdiction: "county" } },
    matches: [{ actor: { org: "330000000000:health-commission" }, recipient: { org: "310000000000:health" } }],
    passes: [{ actor: { org: "330000000000:health-commission" }, recipient: { org: "330102000000:health" } }],
  },
  {
    name: "recipient conditions together (a commercial org at grid level)",
    rule: { recipient: { orgs: ["*:commercial-*"], levels: ["grid"] } },
    matches: [{ recipient: { org: "330102003004-G3:commercial-property" } }],
    passes: [{ recipient: { org: "330102003004:commercial-property" } }, { recipient: { org: "330102003004-G3:grid-office" } }],
  },
  {
    name: "forbidden purposes (case-insensitive glob)",
    rule: { purposes: { forbidden: ["*marketing*", "*营销*"] } },
    matches: [{ purpose: "Precision MARKETING campaign" }, { purpose: "精准营销" }, { purpose: "  marketing  " }],
    passes: [{ purpose: "social assistance eligibility check" }, { purpose: "market supervision" }],
  },
  {
    name: "allowed purposes (whitelist)",
    rule: { purposes: { allowed: ["tax assessment*", "司法执行"] } },
    matches: [{ purpose: "curiosity" }, { purpose: "pre-tax assessment" }],
    passes: [{ purpose: "Tax Assessment 2024" }, { purpose: "司法执行" }, { purpose: "tax   assessment" }],
  },
  {
    name: "forbidden and allowed purposes",
    rule: { purposes: { forbidden: ["*marketing*"], allowed: ["research*"] } },
    matches: [{ purpose: "research for marketing" }, { purpose: "sales" }],
    passes: [{ purpose: "research on ageing" }],
  },
  {
    name: "event types",
    rule: { eventTypes: ["export"], datasets: ["health-*"] },
    matches: [{ type: "export", dataset: "health-records" }],
    passes: [{ type: "share", dataset: "health-records" }, { type: "access", dataset: "health-records" }],
  },
  {
    name: "all conditions at once (household ID numbers to a commercial org)",
    rule: { eventTypes: ["share", "export"], datasets: ["household-registry"], fields: ["id-number"], recipient: { orgs: ["*:commercial-*"] } },
    matches: [{ fields: ["id-number", "name"], recipient: { org: "330102000000:commercial-bank" } }],
    passes: [
      { fields: ["name"], recipient: { org: "330102000000:commercial-bank" } },
      { fields: ["id-number"], recipient: { org: "330102000000:public-security" } },
      { fields: ["id-number"], dataset: "health-records", recipient: { org: "330102000000:commercial-bank" } },
      { type: "use", fields: ["id-number"], recipient: { org: "330102000000:commercial-bank" } },
    ],
  },
];

describe("alert policy", () => {
  describe("negative-list rules", () => {
    for (const c of CASES) {
      describe(c.name, () => {
        const p = policy({ negativeList: [{ id: "R-1", description: "test rule", severity: "critical", ...c.rule }] });
        c.matches.forEach((overrides, i) => {
          it(`flags case ${i + 1}: ${JSON.stringify(overrides)}`, () => {
            const found = violations(p, envelope(7, event({ recipient: { org: "330102000000:civil-affairs" }, ...overrides })));
            expect(found).to.have.length(1);
            expect(found[0]).to.include({ ruleId: "R-1", severity: "critical", description: "test rule" });
            expect(found[0]!.message).to.match(/^R-1 /);
          });
        });
        c.passes.forEach((overrides, i) => {
          it(`passes case ${i + 1}: ${JSON.stringify(overrides)}`, () => {
            expect(violations(p, envelope(7, event({ recipient: { org: "330102000000:civil-affairs" }, ...overrides })))).to.deep.equal([]);
          });
        });
      });
    }

    it("reports every violated rule, in policy order, with what matched", () => {
      const p = policy({
        negativeList: [
          { id: "B", description: "grid gets ID numbers", severity: "warning", fields: ["id-number"], recipient: { levels: ["grid"] } },
          { id: "A", description: "no marketing", severity: "critical", purposes: { forbidden: ["*marketing*"] } },
          { id: "C", description: "never matches", severity: "info", datasets: ["nothing"] },
        ],
      });
      const found = violations(p, envelope(1, event({ purpose: "marketing", fields: ["id-number"], recipient: { org: "330102003004-G1:grid" } })));
      expect(found.map((v) => v.ruleId)).to.deep.equal(["B", "A"]);
      expect(found[0]!.message).to.include("field id-number").and.include("recipient at grid level");
      expect(found[1]!.message).to.include('purpose matches forbidden "*marketing*"');
    });

    it("the empty policy flags nothing", () => {
      expect(violations(parsePolicy({ version: 1 }), envelope(0, event({ purpose: "marketing" })))).to.deep.equal([]);
    });
  });

  describe("globs and jurisdictions", () => {
    it("treats only * and ? as wildcards", () => {
      expect(globRegExp("a.b*").test("a.bc")).to.equal(true);
      expect(globRegExp("a.b*").test("axbc")).to.equal(false);
      expect(globRegExp("id-?").test("id-1")).to.equal(true);
      expect(globRegExp("id-?").test("id-12")).to.equal(false);
      expect(globRegExp("(x)+[y]").test("(x)+[y]")).to.equal(true);
    });

    it("finds the enclosing division at a level", () => {
      expect(jurisdictionAt("330102003004", "county")).to.equal("330102000000");
      expect(jurisdictionAt("330102003004", "city")).to.equal("330100000000");
      expect(jurisdictionAt("330102003004-G9", "village")).to.equal("330102003004");
      expect(jurisdictionAt("330102000000", "township")).to.equal("330102000000");
      expect(jurisdictionAt("bad", "county")).to.equal(undefined);
    });
  });

  describe("the example policy file", () => {
    const file = path.join(__dirname, "..", "..", "config", "policy.example.json");
    const example = parsePolicyText(fs.readFileSync(file, "utf8"));

    it("is valid", () => {
      expect(example.negativeList.length).to.be.greaterThan(4);
      expect(example.thresholds.distinctSubjectsPerOperatorPerHour?.limit).to.be.a("number");
      expect(example.thresholds.exportVolume?.factor).to.be.a("number");
    });

    const flags = (overrides: EventOverrides) => violations(example, envelope(1, event(overrides))).map((v) => v.ruleId);

    it("flags household ID numbers shared with a commercial organisation", () => {
      expect(flags({ fields: ["name", "id-number"], recipient: { org: "330102000000:commercial-bank" } })).to.include("NL-HR-001");
    });

    it("flags health data exported for marketing", () => {
      expect(flags({ type: "export", dataset: "health-records", purpose: "保健品精准营销", recipient: { org: "330102000000:health" } })).to.include("NL-HE-001");
    });

    it("flags full ID numbers sent to a grid", () => {
      expect(flags({ fields: ["id-number"], recipient: { org: "330102003004-G12:grid-office" } })).to.include("NL-GRID-001");
    });

    it("lets an ordinary in-county share through", () => {
      expect(flags({ fields: ["name", "address"], recipient: { org: "330102003000:street-office" } })).to.deep.equal([]);
    });

    it("redacts webhook secrets for display", () => {
      const shown = redactPolicy(example);
      expect(shown.webhooks[0]!.secret).to.equal("[redacted]");
      expect(JSON.stringify(shown)).not.to.include(example.webhooks[0]!.secret!);
      expect(example.webhooks[0]!.secret).not.to.equal("[redacted]");
    });
  });

  describe("invalid documents", () => {
    const rule = { id: "R-1", description: "d", severity: "warning", datasets: ["x"] };
    const INVALID: [name: string, document: unknown, path: string, message?: RegExp][] = [
      ["wrong version", { version: 2 }, "version"],
      ["missing version", {}, "version"],
      ["unknown top-level field", { version: 1, negativelist: [] }, "", /negativelist/],
      ["unknown severity", { version: 1, negativeList: [{ ...rule, severity: "high" }] }, "negativeList[0].severity", /info|warning|critical/],
      ["misspelt rule field", { version: 1, negativeList: [{ ...rule, dataset: ["x"] }] }, "negativeList[0]", /dataset/],
      ["unknown level", { version: 1, negativeList: [{ ...rule, recipient: { levels: ["county", "street"] } }] }, "negativeList[0].recipient.levels[1]"],
      ["bad org glob", { version: 1, negativeList: [{ ...rule, recipient: { orgs: ["3301* OR 1=1"] } }] }, "negativeList[0].recipient.orgs[0]"],
      ["empty recipient", { version: 1, negativeList: [{ ...rule, recipient: {} }] }, "negativeList[0].recipient"],
      ["empty purposes", { version: 1, negativeList: [{ ...rule, purposes: {} }] }, "negativeList[0].purposes"],
      ["event types only", { version: 1, negativeList: [{ id: "R", description: "d", severity: "info", eventTypes: ["share"] }] }, "negativeList[0]", /at least one/],
      ["unknown event type", { version: 1, negativeList: [{ ...rule, eventTypes: ["print"] }] }, "negativeList[0].eventTypes[0]"],
      ["bad rule id", { version: 1, negativeList: [{ ...rule, id: "has space" }] }, "negativeList[0].id"],
      ["duplicate rule id", { version: 1, negativeList: [rule, { ...rule }] }, "negativeList[1].id", /duplicate/],
      ["factor as a string", { version: 1, thresholds: { exportVolume: { factor: "3", baselineDays: 7, minCount: 5 } } }, "thresholds.exportVolume.factor"],
      ["zero limit", { version: 1, thresholds: { distinctSubjectsPerOperatorPerHour: { limit: 0 } } }, "thresholds.distinctSubjectsPerOperatorPerHour.limit"],
      ["unknown threshold", { version: 1, thresholds: { exportsPerMinute: 5 } }, "thresholds", /exportsPerMinute/],
      ["time zone name", { version: 1, timeZone: "Asia/Shanghai" }, "timeZone"],
      ["ftp webhook", { version: 1, webhooks: [{ url: "ftp://example.com/x" }] }, "webhooks[0].url", /http/],
      ["webhook with credentials", { version: 1, webhooks: [{ url: "https://u:p@example.com/x" }] }, "webhooks[0].url"],
      ["short webhook secret", { version: 1, webhooks: [{ url: "https://example.com/x", secret: "short" }] }, "webhooks[0].secret", /16/],
      ["duplicate webhook", { version: 1, webhooks: [{ url: "https://example.com/x" }, { url: "https://example.com/x" }] }, "webhooks[1].url"],
      ["not an object", [], ""],
    ];

    for (const [name, document, expectedPath, message] of INVALID) {
      it(`refuses ${name} at ${expectedPath || "(root)"}`, () => {
        let error: unknown;
        try {
          parsePolicy(document);
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(PolicyError);
        const issues = (error as PolicyError).issues;
        const issue = issues.find((i) => i.path === expectedPath);
        expect(issue, `issues: ${JSON.stringify(issues)}`).to.not.equal(undefined);
        if (message) expect(issue!.message).to.match(message);
        expect((error as PolicyError).message).to.include(expectedPath || "(root)");
      });
    }

    it("refuses text that is not JSON", () => {
      expect(() => parsePolicyText("{ version: 1 ")).to.throw(PolicyError, /not JSON/);
    });
  });
});
