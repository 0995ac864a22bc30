// /tx/<hash>: a transaction, its receipt (revert reason, created contract), its internal
// calls (geth's callTracer), its logs, and its inferences: one timeline per call, live until
// every call is final.

import { get } from "../api.js";
import { h, fill, facts } from "../dom.js";
import { opg, shortHash, isFinal } from "../format.js";
import { every } from "../live.js";
import { sentence } from "../sentence.js";
import { blockLink, addressLink, inferenceLink, modeBadge, statusBadge, heading, section, mono } from "../ui.js";
import { statusWord } from "./block.js";
import { callTimelines, legend } from "./inference.js";

export async function render(main, [hash], signal) {
  const t = await get(`/api/txs/${encodeURIComponent(hash)}`, signal);
  let inf = t.inference;
  const calls = h("div", { "data-testid": "calls" });
  const lanes = h("div");
  fill(main,
    heading("Transaction", " ", h("span", { class: "hash heading-hash", title: t.hash }, shortHash(t.hash))),
    section("Overview", facts([
      ["Hash", mono(t.hash)],
      ["Status", statusWord(t.status)],
      ["Revert reason", t.status === 0 ? h("span", { class: "error", "data-testid": "revert-reason" }, t.revert_reason || "none given") : null],
      ["Block", blockLink(t.block_number)],
      ["From", addressLink(t.from, true)],
      ["To", t.to || !t.contract_address ? addressLink(t.to, true) : h("span", {}, "contract creation")],
      ["Contract created", t.contract_address ? h("span", { "data-testid": "contract-created" }, addressLink(t.contract_address, true)) : null],
      ["Value", opg(t.value)],
      ["Nonce", String(t.nonce)],
      ["Gas used", t.gas_used !== null && t.gas_used !== undefined ? Number(t.gas_used).toLocaleString("en-US") : null],
      ["Gas price", t.effective_gas_price ? `${(Number(BigInt(t.effective_gas_price)) / 1e9).toLocaleString("en-US")} gwei` : null],
    ])),
    inf ? section("Inference", inferenceSummary(inf), legend(), lanes) : null,
    t.block_number !== null && t.block_number !== undefined ? section("Internal calls", calls) : null,
    section("Input data", h("pre", { class: "calldata" }, t.input || "0x")),
    section(`Logs (${(t.logs || []).length})`, (t.logs || []).length
      ? t.logs.map((log) => h("div", { class: "log" }, facts([
        ["Address", addressLink(log.address, true)],
        ["Topics", (log.topics || []).map((topic) => h("code", { class: "mono" }, topic))],
        ["Data", h("code", { class: "mono wrap" }, log.data)],
      ])))
      : h("p", { class: "empty" }, "No logs.")));

  const callsOf = (r) => (r ? (r.many ? r.calls : [r]) : []);
  let frame = null;
  const drawCalls = () => { if (frame) fill(calls, callTree(frame, callsOf(inf))); };
  if (t.block_number !== null && t.block_number !== undefined) {
    fill(calls, h("p", { class: "loading" }, "Tracing…"));
    get(`/api/txs/${encodeURIComponent(t.hash)}/calls`, signal)
      .then((f) => { frame = f; drawCalls(); })
      .catch((error) => {
        if (error.name !== "AbortError" && !signal.aborted) fill(calls, h("p", { class: "error" }, `Cannot trace this transaction: ${error.detail || error.message}`));
      });
  }
  if (!inf) return;
  // Every call's lane on one time axis; redrawn as the clock runs until all are final.
  const draw = () => fill(lanes, callTimelines(callsOf(inf), "h3"));
  draw();
  let fetching = false;
  every(1000, async () => {
    if (callsOf(inf).every(isFinal) || fetching) return;
    fetching = true;
    try {
      inf = await get(`/api/inferences/${encodeURIComponent(t.hash)}`, signal);
      drawCalls();
    } catch (error) {
      if (error.name !== "AbortError") console.debug(error); // unreachable for now: the banner says so
    } finally {
      fetching = false;
    }
  }, signal);
  every(200, () => { if (!callsOf(inf).every(isFinal)) draw(); }, signal);
}

function inferenceSummary(inf) {
  const calls = inf.many ? inf.calls : [inf];
  return [
    h("p", {}, inferenceLink(inf.tx_hash || inf.id, inf.many ? `Open the ${calls.length} calls' timelines` : "Open the timeline"), " ", statusBadge(inf.status)),
    h("ul", { class: "plain" }, calls.map((c) => h("li", {}, modeBadge(c.mode_name), " ", sentence(c)))),
  ];
}

/** The callTracer frame tree as nested lists: kind, from → to, value, gas used, the input's
 *  selector, the error if any; calls to the inference hub or precompile are marked, and a
 *  precompile call links to its inference record. */
function callTree(root, records) {
  const byIndex = new Map(records.map((c) => [c.call_index ?? 0, c]));
  const item = (f, depth) => h("li", { class: `call-frame${f.error ? " failed" : ""}${f.is_inference ? " inference-call" : ""}`, "data-testid": "call" },
    frameLine(f, depth, byIndex),
    (f.calls || []).length ? h("ul", { class: "call-tree" }, f.calls.map((c) => item(c, depth + 1))) : null,
    f.calls_not_shown ? h("p", { class: "muted" }, `${f.calls_not_shown} deeper calls not shown`) : null);
  const count = (f) => (f.calls || []).reduce((n, c) => n + 1 + count(c), 0);
  return [
    h("p", { class: "lead" }, count(root) ? `${count(root)} internal call${count(root) === 1 ? "" : "s"} under the transaction's own call.` : "No internal calls."),
    h("ul", { class: "call-tree root" }, item(root, 0)),
  ];
}

function frameLine(f, depth, records) {
  const creation = f.type === "CREATE" || f.type === "CREATE2";
  const bytes = f.input && f.input.length > 2 ? (f.input.length - 2) / 2 : 0;
  let input = null;
  if (creation) input = h("span", { class: "muted" }, `initcode ${bytes.toLocaleString("en-US")} bytes`);
  else if (bytes >= 4) input = [mono(f.input.slice(0, 10)), bytes > 4 ? h("span", { class: "muted" }, ` +${(bytes - 4).toLocaleString("en-US")} bytes`) : null];
  let value = null;
  try { if (f.value && BigInt(f.value) > 0n) value = opg(f.value); } catch { value = String(f.value); }
  let gasUsed = null;
  try { gasUsed = `gas ${Number(BigInt(f.gasUsed)).toLocaleString("en-US")}`; } catch { /* absent */ }
  const record = f.inference_call !== undefined ? records.get(f.inference_call) : null;
  const marker = f.is_inference
    ? h("span", { class: "badge inference", "data-testid": "inference-call" },
      f.inference_call !== undefined ? `inference call ${f.inference_call}` : "inference")
    : null;
  return h("div", { class: "frame" },
    h("span", { class: "badge frame-type" }, f.type || "CALL"), " ",
    addressLink(f.from), " → ",
    addressLink(f.to), creation && depth > 0 ? h("span", { class: "muted" }, " (created)") : null,
    value ? [" · ", value] : null,
    gasUsed ? [" · ", gasUsed] : null,
    input ? [" · ", input] : null,
    marker ? [" ", marker] : null,
    record ? [" ", modeBadge(record.mode_name), " ", inferenceLink(record.id || record.tx_hash, "timeline")] : null,
    f.error ? [" ", h("span", { class: "error" }, f.error)] : null);
}
