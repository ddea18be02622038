import { call, describeFailure } from "../api";
import { h, notice, replace, verbatim } from "../dom";
import { t, tParts } from "../i18n/i18n";
import { jsonRpcReader } from "../json-rpc-reader";
import { checkReceipt, STEP_ORDER, stepTitle, type ReceiptCheck, type StepId } from "../receipt-check";
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
  get title() {
    return t("verify.title");
  },
  async render({ main, params, signal }: PageContext) {
    const textarea = h("textarea", { id: "receipt-text", name: "receipt", rows: 11, spellcheck: "false", autocomplete: "off", "aria-describedby": "receipt-hint" });
    // The native picker's button and "no file" text follow the browser's UI language, not the page's: it is hidden behind a label worded by the catalogue.
    const file = h("input", { type: "file", id: "receipt-file", class: "file-input", accept: ".json,application/json", "aria-describedby": "receipt-file-name" });
    const fileName = h("span", { id: "receipt-file-name", class: "muted" }, t("verify.noFile"));
    const rpc = h("input", { type: "url", id: "rpc-url", name: "rpc", value: rememberedRpc, placeholder: "http://127.0.0.1:8545", autocomplete: "off", spellcheck: "false", "aria-describedby": "rpc-hint" });
    const source = h("div", { id: "receipt-source", "aria-live": "polite" });
    const logListFile = h("input", { type: "file", id: "log-list-file", class: "file-input", accept: ".json,application/json", "aria-describedby": "trust-source" });
    const logListName = h("span", { id: "log-list-file-name", class: "muted" }, t("verify.noFile"));
    const trustSource = h("div", { id: "trust-source", "aria-live": "polite" });
    const outcome = h("div", { id: "verify-outcome", role: "status", "aria-live": "polite" });
    const steps = h("ol", { id: "verify-steps", class: "steps" }, STEP_ORDER.map((id) => stepItem(id, "idle", t("verify.notChecked"))));
    const verifyButton = h("button", { type: "submit", id: "verify-button" }, t("verify.button"));
    const dropZone = h(
      "div",
      { class: "drop-zone", id: "drop-zone" },
      h("label", { for: "receipt-text" }, t("verify.receiptLabel")),
      textarea,
      h("small", { id: "receipt-hint", class: "hint" }, t("verify.receiptHint")),
    );
    const form = h(
      "form",
      { id: "verify-form", class: "verify-form", novalidate: true },
      dropZone,
      h("div", { class: "field" }, h("label", { for: "receipt-file" }, t("verify.fileLabel")), h("div", { class: "file-picker" }, file, h("label", { for: "receipt-file", class: "button secondary" }, t("verify.chooseFile")), fileName)),
      h("div", { class: "field" }, h("label", { for: "log-list-file" }, t("verify.logListLabel")), h("div", { class: "file-picker" }, logListFile, h("label", { for: "log-list-file", class: "button secondary" }, t("verify.chooseFile")), logListName), trustSource),
      h("div", { class: "field" }, h("label", { for: "rpc-url" }, t("verify.rpcLabel")), rpc, h("small", { id: "rpc-hint", class: "hint" }, t("verify.rpcHint"))),
      h("div", { class: "actions" }, verifyButton),
    );
    replace(
      main,
      h("h1", { tabindex: "-1" }, t("verify.title")),
      h("p", { class: "lead" }, t("verify.lead")),
      source,
      h("div", { class: "verify-layout" }, h("section", { "aria-label": t("verify.receiptSection") }, form), h("section", { "aria-labelledby": "steps-heading", class: "verify-results" }, h("h2", { id: "steps-heading" }, t("verify.checks")), steps, outcome)),
    );

    const reset = () => {
      replace(outcome);
      steps.replaceChildren(...STEP_ORDER.map((id) => stepItem(id, "idle", t("verify.notChecked"))));
    };
    textarea.addEventListener("input", reset);
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      fileName.textContent = chosen?.name ?? t("verify.noFile");
      if (chosen) await loadFile(chosen);
    });
    const loadFile = async (chosen: File) => {
      if (chosen.size > 2_000_000) {
        replace(source, notice("error", tParts("verify.tooLarge", { name: verbatim(chosen.name), size: chosen.size })));
        return;
      }
      textarea.value = await chosen.text();
      reset();
      replace(source, notice("info", tParts("verify.loadedFile", { name: verbatim(chosen.name) })));
    };
    const showTrust = (problem?: string) => {
      const list = rememberedTrust;
      const names = list ? list.list.logs.map((l) => t("verify.trustedLog", { name: l.name, logId: `${l.logId.slice(0, 10)}…`, contract: `${l.contract.slice(0, 10)}…`, chainId: String(l.chainId) })).join("; ") : "";
      replace(
        trustSource,
        ...(problem ? [notice("error", tParts("verify.trustProblem", { message: verbatim(problem) }))] : []),
        list ? notice("info", tParts("verify.trusted", { names: verbatim(names), source: list.source })) : notice("warning", t("verify.noTrustedLog")),
      );
    };
    logListFile.addEventListener("change", async () => {
      const chosen = logListFile.files?.[0];
      if (!chosen) return;
      try {
        if (chosen.size > 2_000_000) throw new TrustAnchorError("LOG_LIST_MALFORMED", `${chosen.name} is ${chosen.size.toLocaleString()} bytes, too large for a log list`);
        rememberedTrust = { list: parseLogListText(await chosen.text(), chosen.name), source: t("verify.trustFromFile", { name: chosen.name }) };
        logListName.textContent = chosen.name;
        reset();
        showTrust();
      } catch (error) {
        if (!(error instanceof TrustAnchorError)) throw error;
        showTrust(error.message);
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
            rememberedTrust = { list: parseLogList(body, "the gateway's log list"), source: t("verify.trustFromGateway") };
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
      replace(outcome, h("p", { class: "loading" }, t("verify.verifying")));
      steps.setAttribute("aria-busy", "true");
      try {
        // A click before the gateway's log list arrived waits for it rather than finding no trusted log.
        await trustLoading;
        const result = await checkReceipt(textarea.value, rememberedTrust?.list, rememberedRpc ? jsonRpcReader(rememberedRpc) : undefined);
        if (signal.aborted) return;
        show(result);
      } catch (error) {
        replace(outcome, notice("error", tParts("verify.checkFailed", { message: verbatim((error as Error).message) })));
      } finally {
        verifyButton.disabled = false;
        steps.removeAttribute("aria-busy");
      }
    });

    const show = (result: ReceiptCheck) => {
      steps.replaceChildren(...result.steps.map((step) => stepItem(step.id, step.state, step.detail, step.explanation)));
      const receipt = result.receipt;
      replace(
        outcome,
        result.ok
          ? h(
              "div",
              { class: "verdict verdict-pass", id: "verdict" },
              h("strong", {}, t("verify.valid")),
              t("verify.validText", { index: receipt!.entry.index, log: receipt!.log.id.slice(0, 10), treeSize: receipt!.checkpoint.treeSize, chainId: String(receipt!.log.chainId) }),
            )
          : h("div", { class: "verdict verdict-fail", id: "verdict" }, h("strong", {}, result.code === "UNTRUSTED_LOG" ? t("verify.untrusted") : t("verify.invalid")), h("span", { class: "explanation" }, result.explanation ?? ""), " ", h("span", { class: "reason", translate: "no" }, result.reason ?? ""), " ", h("code", { class: "code", translate: "no" }, result.code ?? "")),
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
      replace(source, h("p", { class: "loading" }, t("verify.fetching", { index: i })));
      try {
        const answer = await call(`/v1/receipts/${i}`, { signal });
        if (signal.aborted) return;
        if (answer.status === 202) {
          replace(
            source,
            notice("warning", t("verify.pending", { index: i, treeSize: answer.body.treeSize, anchoredSize: answer.body.anchoredSize }), " ", h("button", { type: "button", class: "secondary", onclick: () => loadReceipt(i) }, t("verify.tryAgain"))),
          );
          return;
        }
        textarea.value = JSON.stringify(answer.body, null, 2);
        reset();
        const url = URL.createObjectURL(new Blob([textarea.value + "\n"], { type: "application/json" }));
        signal.addEventListener("abort", () => URL.revokeObjectURL(url), { once: true });
        replace(source, notice("info", tParts("verify.loaded", { index: i, save: h("a", { href: url, download: `receipt-${i}.json`, id: "download-receipt" }, t("verify.save")) })));
      } catch (error) {
        if (!signal.aborted) replace(source, notice("error", describeFailure(error, t("what.receipt", { index: i }))));
      }
    }
  },
};

/** A failed step shows what its failure means (`explanation`) and then the verifier's own words. */
function stepItem(id: StepId, state: "pass" | "fail" | "skipped" | "idle", detail: string, explanation?: string): HTMLLIElement {
  const label = t(`stepState.${state}`);
  const icon = { pass: "✓", fail: "✗", skipped: "–", idle: "…" }[state];
  const item = h(
    "li",
    { class: `step step-${state}`, id: `step-${id}` },
    h("span", { class: "step-icon", "aria-hidden": "true" }, icon),
    h("div", {}, h("p", { class: "step-title" }, h("strong", {}, stepTitle(id)), " — ", h("span", { class: "step-state" }, label)), explanation ? h("p", { class: "step-explanation" }, explanation) : null, h("p", { class: "step-detail", ...(explanation ? { translate: "no" } : {}) }, detail)),
  );
  item.dataset.state = state;
  return item;
}
