/**
 * The trust anchor (DESIGN.md "Trust anchors"): the log list's schema and errors,
 * and trustedLogFor, which every verifier runs before anything else. Pure code,
 * no chain: each case names what it refuses and asserts the error's code.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readLogListFile } from "../../server/receipts/load-log-list";
import { ReceiptError } from "../../server/receipts/receipt-error";
import { parseLogList, parseLogListText, singleLogAnchor, trustedLogFor, TrustAnchorError, type LogList } from "../../server/receipts/trust-anchor";

const LOG_A = "0x" + "a1".repeat(32);
const LOG_B = "0x" + "b2".repeat(32);
const CONTRACT = "0x" + "c3".repeat(20);
const OTHER_CONTRACT = "0x" + "d4".repeat(20);

function entry(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { logId: LOG_A, chainId: 31337, contract: CONTRACT, name: "Shangcheng district gateway", division: "330102000000", ...overrides };
}

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error, got none");
}

describe("receipts: the trust anchor (log list)", function () {
  describe("parseLogList", function () {
    it("accepts the log list of DESIGN.md, with and without noteKey, and keeps only its fields", function () {
      const list = parseLogList({ version: 1, logs: [entry({ noteKey: "demo+01234567+AQID", extra: "ignored" }), entry({ logId: LOG_B })] });
      expect(list).to.deep.equal({
        version: 1,
        logs: [
          { logId: LOG_A, chainId: 31337, contract: CONTRACT, name: "Shangcheng district gateway", division: "330102000000", noteKey: "demo+01234567+AQID" },
          { logId: LOG_B, chainId: 31337, contract: CONTRACT, name: "Shangcheng district gateway", division: "330102000000" },
        ],
      });
      expect(list.logs[1]).to.not.have.property("noteKey");
    });

    it("takes hex in any case (an EIP-55 checksummed address) and keeps it lowercase, as receipts spell it", function () {
      const list = parseLogList({ version: 1, logs: [entry({ logId: LOG_A.toUpperCase().replace("0X", "0x"), contract: "0xC3c3C3c3C3c3C3c3C3c3C3c3C3c3C3c3C3c3C3c3" })] });
      expect(list.logs[0]!.logId).to.equal(LOG_A);
      expect(list.logs[0]!.contract).to.equal(CONTRACT);
    });

    it("refuses a malformed list with LOG_LIST_MALFORMED naming where", function () {
      const cases: [string, unknown, RegExp][] = [
        ["not an object", "a list", /\(root\)/],
        ["null", null, /\(root\)/],
        ["another version", { version: 2, logs: [entry()] }, /version/],
        ["no version", { logs: [entry()] }, /version/],
        ["logs not an array", { version: 1, logs: entry() }, /logs/],
        ["no log at all", { version: 1, logs: [] }, /names no log/],
        ["a short log id", { version: 1, logs: [entry({ logId: "0x1234" })] }, /logs\[0\]\.logId/],
        ["a log id without 0x", { version: 1, logs: [entry({ logId: "a1".repeat(32) })] }, /logs\[0\]\.logId/],
        ["a contract of 19 bytes", { version: 1, logs: [entry({ contract: "0x" + "c3".repeat(19) })] }, /logs\[0\]\.contract/],
        ["a chain id as a string", { version: 1, logs: [entry({ chainId: "31337" })] }, /logs\[0\]\.chainId/],
        ["a chain id of 0", { version: 1, logs: [entry({ chainId: 0 })] }, /logs\[0\]\.chainId/],
        ["a fractional chain id", { version: 1, logs: [entry({ chainId: 1.5 })] }, /logs\[0\]\.chainId/],
        ["no name", { version: 1, logs: [entry({ name: undefined })] }, /logs\[0\]\.name/],
        ["a division of 6 digits", { version: 1, logs: [entry(), entry({ logId: LOG_B, division: "330102" })] }, /logs\[1\]\.division/],
        ["a noteKey that is not a string", { version: 1, logs: [entry({ noteKey: 7 })] }, /logs\[0\]\.noteKey/],
      ];
      for (const [what, input, where] of cases) {
        const error = errorOf(() => parseLogList(input, "trusted-logs.json"));
        expect(error, what).to.be.instanceOf(TrustAnchorError);
        expect((error as TrustAnchorError).code, what).to.equal("LOG_LIST_MALFORMED");
        expect(error.message, what).to.match(/^trusted-logs\.json is malformed at /).and.match(where);
      }
    });

    it("refuses a log listed twice (LOG_LIST_DUPLICATE), the same or with another contract or chain, whatever the case of its id", function () {
      for (const second of [entry(), entry({ contract: OTHER_CONTRACT }), entry({ chainId: 1 }), entry({ logId: LOG_A.replace(/a/g, "A") })]) {
        const error = errorOf(() => parseLogList({ version: 1, logs: [entry(), entry({ logId: LOG_B }), second] }));
        expect(error).to.be.instanceOf(TrustAnchorError);
        expect((error as TrustAnchorError).code).to.equal("LOG_LIST_DUPLICATE");
        expect(error.message).to.include("logs[2]").and.include("logs[0]").and.include(LOG_A);
      }
    });

    it("refuses text that is not JSON (LOG_LIST_NOT_JSON), and reads a file, saying which one could not be read", function () {
      const notJson = errorOf(() => parseLogListText("{ version: 1", "trusted-logs.json")) as TrustAnchorError;
      expect(notJson.code).to.equal("LOG_LIST_NOT_JSON");
      expect(notJson.message).to.match(/^trusted-logs\.json is not JSON/);
      const dir = mkdtempSync(path.join(os.tmpdir(), "trust-anchor-"));
      try {
        const file = path.join(dir, "trusted-logs.json");
        writeFileSync(file, JSON.stringify({ version: 1, logs: [entry()] }));
        expect(readLogListFile(file).logs[0]!.logId).to.equal(LOG_A);
        const missing = errorOf(() => readLogListFile(path.join(dir, "missing.json"))) as TrustAnchorError;
        expect(missing.code).to.equal("LOG_LIST_UNREADABLE");
        expect(missing.message).to.include("missing.json").and.include("ENOENT");
        writeFileSync(file, JSON.stringify({ version: 1, logs: [entry({ contract: "0x12" })] }));
        expect((errorOf(() => readLogListFile(file)) as TrustAnchorError).message).to.include(file).and.include("logs[0].contract");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("singleLogAnchor (the CLI's --log-id/--contract/--chain-id)", function () {
    it("is a trust anchor of that one log, lowercased; refuses a bad coordinate", function () {
      expect(singleLogAnchor({ logId: LOG_A.toUpperCase().replace("0X", "0x"), contract: CONTRACT, chainId: 31337 })).to.deep.equal({ logs: [{ logId: LOG_A, contract: CONTRACT, chainId: 31337 }] });
      for (const bad of [{ logId: "0x12", contract: CONTRACT, chainId: 1 }, { logId: LOG_A, contract: "nope", chainId: 1 }, { logId: LOG_A, contract: CONTRACT, chainId: "x" }]) {
        expect((errorOf(() => singleLogAnchor(bad, "the flags")) as TrustAnchorError).code).to.equal("LOG_LIST_MALFORMED");
      }
    });
  });

  describe("trustedLogFor", function () {
    const trust: LogList = parseLogList({ version: 1, logs: [entry(), entry({ logId: LOG_B, chainId: 1, contract: OTHER_CONTRACT, name: "another gateway" })] });

    it("returns the entry whose log id, chain id and contract all match", function () {
      expect(trustedLogFor({ id: LOG_A, chainId: 31337, contract: CONTRACT }, trust).name).to.equal("Shangcheng district gateway");
      expect(trustedLogFor({ id: LOG_B, chainId: 1, contract: OTHER_CONTRACT }, trust).name).to.equal("another gateway");
      // Case never decides: the receipt schema wants lowercase, but this check does not lean on it.
      expect(trustedLogFor({ id: LOG_A.toUpperCase().replace("0X", "0x"), chainId: 31337, contract: CONTRACT.toUpperCase().replace("0X", "0x") }, trust).logId).to.equal(LOG_A);
    });

    it("refuses with UNTRUSTED_LOG when any one of the three differs, or the log is unknown", function () {
      const cases: [string, { id: string; chainId: number; contract: string }, RegExp][] = [
        ["the forger's contract", { id: LOG_A, chainId: 31337, contract: OTHER_CONTRACT }, new RegExp(`trusted log ${LOG_A} is at contract ${CONTRACT} on chain 31337`)],
        ["another chain", { id: LOG_A, chainId: 1, contract: CONTRACT }, /is at contract .* on chain 31337/],
        ["a pairing of two trusted logs' coordinates", { id: LOG_A, chainId: 1, contract: OTHER_CONTRACT }, /is at contract/],
        ["an unknown log", { id: "0x" + "ee".repeat(32), chainId: 31337, contract: CONTRACT }, /\(2 trusted logs\)/],
      ];
      for (const [what, log, says] of cases) {
        const error = errorOf(() => trustedLogFor(log, trust));
        expect(error, what).to.be.instanceOf(ReceiptError);
        expect((error as ReceiptError).code, what).to.equal("UNTRUSTED_LOG");
        expect(error.message, what).to.include(log.contract.toLowerCase()).and.match(says);
      }
    });

    it("trusts nothing when the anchor lists no log", function () {
      expect((errorOf(() => trustedLogFor({ id: LOG_A, chainId: 31337, contract: CONTRACT }, { logs: [] })) as ReceiptError).code).to.equal("UNTRUSTED_LOG");
    });
  });
});
