import { call, describeFailure } from "../api";
import { h, notice, replace } from "../dom";
import { jsonRpcReader } from "../json-rpc-reader";
import { checkReceipt, STEP_ORDER, STEP_TITLES, type ReceiptCheck, type StepId } from "../receipt-check";
import { parseLogList, parseLogListText, TrustAnchorError, type LogList } from "../../../receipts/trust-anchor";
import type { Page, PageContext } from "./page";

/**
 * The receipt verifier: paste, open or drop a receipt; it is checked here, step
 * by step, with the same RFC 8785 / RFC 9162 code the gateway uses, and the root
 * compared with the chain through a JSON-RPC endpoint the auditor may change.
 * The gateway is asked for nothing but (optionally) the receipt, its RPC URL and,
 * as the default trust anchor, its own log-list entry; a log list file the auditor
 * loads replaces that. A receipt of a log outside the trust anchor is not trusted.
 */

let rememberedRpc = "";
/** The trust anchor in use and where it came from; kept while the console is open. */
let rememberedTrust: { list: LogList; source: string } | undefined;

export const verifyPage: Page = {
  title: "Verify a receipt",
  async render({ main, params, signal }: PageContext) {
    const textarea = h("textarea", { id: "receipt-text", name: "receipt", rows: 11, spellcheck: "false", autocomplete: "off", "aria-describedby": "receipt-hint" });
    const file = h("input", { type: "file", id: "receipt-file", accept: ".json,application/json" });
    const rpc = h("input", { type: "url", id: "rpc-url", name: "rpc", value: rememberedRpc, placeholder: "http://127.0.0.1:8545", autocomplete: "off", spellcheck: "false", "aria-describedby": "rpc-hint" });
    const source = h("div", { id: "receipt-source", "aria-live": "polite" });
    const logListFile = h("input", { type: "file", id: "log-list-file", accept: ".json,application/json", "aria-describedby": "trust-source" });
    const trustSource = h("div", { id: "trust-source", "aria-live": "polite" });
    const outcome = h("div", { id: "verify-outcome", role: "status", "aria-live": "polite" });
    const steps = h("ol", { id: "verify-steps", class: "steps" }, STEP_ORDER.map((id) => stepItem(id, "idle", "Not checked yet.")));
    const verifyButton = h("button", { type: "submit", id: "verify-button" }, "Verify");
    const dropZone = h(
      "div",
      { class: "drop-zone", id: "drop-zone" },
      h("label", { for: "receipt-text" }, "Receipt (JSON)"),
      textarea,
      h("small", { id: "receipt-hint", class: "hint" }, "Paste a receipt, drop a receipt file here, or choose one below."),
    );
    const form = h(
      "form",
      { id: "verify-form", class: "verify-form", novalidate: true },
      dropZone,
      h("div", { class: "field" }, h("label", { for: "receipt-file" }, "Receipt file"), file),
      h("div", { class: "field" }, h("label", { for: "log-list-file" }, "Trusted logs (log list file)"), logListFile, trustSource),
      h("div", { class: "field" }, h("label", { for: "rpc-url" }, "RPC endpoint of the chain"), rpc, h("small", { id: "rpc-hint", class: "hint" }, "The root is asked of the contract through this JSON-RPC endpoint; use your own node to trust no one but the chain.")),
      h("div", { class: "actions" }, verifyButton),
    );
    replace(
      main,
      h("h1", { tabindex: "-1" }, "Verify a receipt"),
      h(
        "p",
        { class: "lead" },
        "The receipt is checked in this browser with the ledger's own RFC 9162 code: that its log is one you trust, the envelope's leaf hash, the inclusion proof up to the checkpoint's root, and that root on chain. The gateway's own opinion is not used.",
      ),
      source,
      h("div", { class: "verify-layout" }, h("section", { "aria-label": "Receipt" }, form), h("section", { "aria-labelledby": "steps-heading", class: "verify-results" }, h("h2", { id: "steps-heading" }, "Checks"), steps, outcome)),
    );

    const reset = () => {
      replace(outcome);
      steps.replaceChildren(...STEP_ORDER.map((id) => stepItem(id, "idle", "Not checked yet.")));
    };
    textarea.addEventListener("input", reset);
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      if (chosen) await loadFile(chosen);
    });
    const loadFile = async (chosen: File) => {
      if (chosen.size > 2_000_000) {
        replace(source, notice("error", `${chosen.name} is ${chosen.size.toLocaleString()} bytes; a receipt is a few kilobytes.`));
        return;
      }
      textarea.value = await chosen.text();
      reset();
      replace(source, notice("info", `Loaded ${chosen.name}.`));
    };
    const showTrust = (problem?: string) => {
      const list = rememberedTrust;
      const names = list ? list.list.logs.map((l) => `${l.name} (log ${l.logId.slice(0, 10)}…, contract ${l.contract.slice(0, 10)}…, chain ${l.chainId})`).join("; ") : "";
      replace(
        trustSource,
        ...(problem ? [notice("error", problem)] : []),
        list ? notice("info", `Trusted: ${names} — from ${list.source}.`) : notice("warning", "No trusted log yet: load a log list file. Until then no receipt is valid."),
      );
    };
    logListFile.addEventListener("change", async () => {
      const chosen = logListFile.files?.[0];
      if (!chosen) return;
      try {
        if (chosen.size > 2_000_000) throw new TrustAnchorError("LOG_LIST_MALFORMED", `${chosen.name} is ${chosen.size.toLocaleString()} bytes, too large for a log list`);
        rememberedTrust = { list: parseLogListText(await chosen.text(), chosen.name), source: `the file ${chosen.name}` };
        reset();
        showTrust();
      } catch (error) {
        if (!(error instanceof TrustAnchorError)) throw error;
        showTrust(`${error.message}. The trusted logs are unchanged.`);
      }
    });
    showTrust();
    // Default trust anchor: this gateway's own entry. It vouches for itself only; a list from elsewhere replaces it.
    let trustLoading: Promise<unknown> = Promise.resolve();
    if (!rememberedTrust) {
      trustLoading = call("/v1/log-list", { signal }).then(
        ({ body }) => {
          if (rememberedTrust || signal.aborted) return;
          try {
            rememberedTrust = { list: parseLogList(body, "the gateway's log list"), source: "this gateway's own log list (/v1/log-list)" };
            showTrust();
          } catch (error) {
            showTrust((error as Error).message);
          }
        },
        () => undefined,
      );
    }

    for (const type of ["dragenter", "dragover"]) {
      dropZone.addEventListener(type, (event) => {
        event.preventDefault();
        dropZone.classList.add("dragging");
      });
    }
    dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
    dropZone.addEventListener("drop", async (event) => {
      event.preventDefault();
      dropZone.classList.remove("dragging");
      const dropped = (event as DragEvent).dataTransfer?.files?.[0];
      if (dropped) await loadFile(dropped);
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      rememberedRpc = rpc.value.trim();
      verifyButton.disabled = true;
      replace(outcome, h("p", { class: "loading" }, "Verifying…"));
      steps.setAttribute("aria-busy", "true");
      try {
        // A click before the gateway's log list arrived waits for it rather than finding no trusted log.
        await trustLoading;
        const result = await checkReceipt(textarea.value, rememberedTrust?.list, rememberedRpc ? jsonRpcReader(rememberedRpc) : undefined);
        if (signal.aborted) return;
        show(result);
      } catch (error) {
        replace(outcome, notice("error", `The check itself failed: ${(error as Error).message}`));
      } finally {
        verifyButton.disabled = false;
        steps.removeAttribute("aria-busy");
      }
    });

    const show = (result: ReceiptCheck) => {
      steps.replaceChildren(...result.steps.map((step) => stepItem(step.id, step.state, step.detail)));
      const receipt = result.receipt;
      replace(
        outcome,
        result.ok
          ? h(
              "div",
              { class: "verdict verdict-pass", id: "verdict" },
              h("strong", {}, "✓ Valid receipt. "),
              `Event ${receipt!.entry.index} of log ${receipt!.log.id.slice(0, 10)}… is in the ${receipt!.checkpoint.treeSize}-leaf checkpoint anchored on chain ${receipt!.log.chainId}, and has not been altered.`,
            )
          : h(
              "div",
              { class: "verdict verdict-fail", id: "verdict" },
              h("strong", {}, result.code === "UNTRUSTED_LOG" ? "✗ Not trusted. " : "✗ Not valid. "),
              h("span", { class: "reason" }, result.reason ?? ""),
              " ",
              h("code", { class: "code" }, result.code ?? ""),
            ),
      );
    };

    // Defaults: the RPC endpoint the gateway publishes for verifiers, and the receipt of ?index=N.
    if (!rememberedRpc) {
      call("/v1/status", { signal }).then(
        ({ body }) => {
          if (!rpc.value && body?.log?.rpcUrl) rpc.value = rememberedRpc = body.log.rpcUrl;
        },
        () => undefined,
      );
    }
    const index = params.get("index");
    if (index !== null && /^\d+$/.test(index)) await loadReceipt(Number(index));

    async function loadReceipt(i: number): Promise<void> {
      replace(source, h("p", { class: "loading" }, `Fetching the receipt of event ${i}…`));
      try {
        const answer = await call(`/v1/receipts/${i}`, { signal });
        if (signal.aborted) return;
        if (answer.status === 202) {
          replace(
            source,
            notice("warning", `Event ${i} is recorded but not anchored yet (tree of ${answer.body.treeSize}, ${answer.body.anchoredSize} anchored); its receipt follows the next checkpoint.`, " ", h("button", { type: "button", class: "secondary", onclick: () => loadReceipt(i) }, "Try again")),
          );
          return;
        }
        textarea.value = JSON.stringify(answer.body, null, 2);
        reset();
        const url = URL.createObjectURL(new Blob([textarea.value + "\n"], { type: "application/json" }));
        signal.addEventListener("abort", () => URL.revokeObjectURL(url), { once: true });
        replace(source, notice("info", `Loaded the receipt of event ${i} from the gateway. `, h("a", { href: url, download: `receipt-${i}.json`, id: "download-receipt" }, "Save it as a file"), " to verify later without the gateway."));
      } catch (error) {
        if (!signal.aborted) replace(source, notice("error", describeFailure(error, `the receipt of event ${i}`)));
      }
    }
  },
};

function stepItem(id: StepId, state: "pass" | "fail" | "skipped" | "idle", detail: string): HTMLLIElement {
  const label = { pass: "Passed", fail: "Failed", skipped: "Not run", idle: "Waiting" }[state];
  const icon = { pass: "✓", fail: "✗", skipped: "–", idle: "…" }[state];
  const item = h(
    "li",
    { class: `step step-${state}`, id: `step-${id}` },
    h("span", { class: "step-icon", "aria-hidden": "true" }, icon),
    h("div", {}, h("p", { class: "step-title" }, h("strong", {}, STEP_TITLES[id]), " — ", h("span", { class: "step-state" }, label)), h("p", { class: "step-detail" }, detail)),
  );
  item.dataset.state = state;
  return item;
}
