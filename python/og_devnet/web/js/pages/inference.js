// /inference/<tx hash or inference id>: one inference's timeline, the sentence that says
// what was trusted when, its input, output and proof material. Live until final.

import { get } from "../api.js";
import { h, fill, facts, table } from "../dom.js";
import { duration, opg, clockTime, isFinal, shortHash } from "../format.js";
import { subscribe, throttle, every, devnetNow } from "../live.js";
import { payloadView } from "../payload.js";
import { sentence } from "../sentence.js";
import { timeline, lastTime } from "../timeline.js";
import { blockLink, txLink, addressLink, nodeLink, inferenceLink, modeBadge, statusBadge, heading, section, mono } from "../ui.js";

export async function render(main, [id], signal) {
  let record = await get(`/api/inferences/${encodeURIComponent(id)}`, signal);
  const page = record.many ? manyPage(record) : singlePage(record);
  fill(main, page.el);
  page.update(record);

  // While not final: refetch on events about this tx and on each block (a status such as
  // "delivered" → "settled" arrives with a block), and redraw the open trust gap as it grows.
  const refresh = throttle(async () => {
    if (isFinal(record)) return;
    const fresh = await get(`/api/inferences/${encodeURIComponent(id)}`, signal);
    if (JSON.stringify(fresh) !== JSON.stringify(record)) page.update((record = fresh));
  }, 150);
  const ids = () => new Set([record.id, record.tx_hash, ...(record.calls || []).map((c) => c.id)]);
  subscribe(["*"], (kind, data) => {
    if (isFinal(record)) return;
    if (kind === "block" || ids().has(data.tx_hash) || ids().has(data.id)) refresh();
  }, signal);
  every(3000, refresh, signal); // in case the event stream is down
  every(100, () => { if (!isFinal(record)) page.tick(); }, signal);
}

/** Now for drawing: the devnet's clock while open (never before what the record knows);
 *  once final, the record's own end, so the axis fits what happened. */
const nowFor = (record) => (isFinal(record) ? lastTime(record) : Math.max(devnetNow(), lastTime(record)));

function singlePage(first) {
  const badges = h("span", { class: "badges" });
  const said = h("p", { class: "sentence", "aria-live": "polite", "data-testid": "sentence" });
  const drawing = h("div", { class: "timeline-wrap" });
  const details = h("div");
  const proof = h("div");
  const input = h("div");
  const output = h("div");
  const attempts = h("div");
  const steps = h("div");
  const title = first.call_index === null || first.call_index === undefined ? "Inference" : `Inference (call ${first.call_index})`;
  let current = first;
  const el = h("div", { class: "page-inference" },
    heading(title, " ", h("span", { class: "hash heading-hash", title: first.id }, shortHash(first.id)), badges),
    said,
    section("Timeline", legend(), drawing),
    h("div", { class: "columns" }, section("Details", details), section("Proof material", proof)),
    h("div", { class: "columns" }, section("Input", input), section("Output", output)),
    section("Node attempts", attempts),
    section("Settlement steps", steps));
  return {
    el,
    update(r) {
      current = r;
      fill(badges, " ", modeBadge(r.mode_name), " ", statusBadge(r.status));
      said.textContent = sentence(r);
      fill(drawing, timeline(r, { now: nowFor(r), label: sentence(r) }));
      fill(details, detailFacts(r));
      fill(proof, proofView(r));
      fill(input, "input" in r ? payloadView(r.input) : h("p", { class: "empty" }, "The record does not include the input."));
      fill(output, r.error ? h("p", { class: "error" }, r.error) : payloadView(r.output));
      fill(attempts, attemptsTable(r));
      fill(steps, stepsTable(r));
    },
    tick() { fill(drawing, timeline(current, { now: nowFor(current), label: sentence(current) })); },
  };
}

/** A runMany transaction: every call on one shared time axis, each linking to its page. */
function manyPage(first) {
  const badge = h("span", { class: "badges" });
  const summary = h("div");
  const calls = h("div", { class: "calls" });
  let current = first;
  const draw = (r) => fill(calls, callTimelines(r.calls));
  const el = h("div", { class: "page-inference" },
    heading("runMany transaction", " ", h("span", { class: "hash heading-hash", title: first.tx_hash }, shortHash(first.tx_hash)), badge),
    h("p", { class: "lead" }, "Several inferences in one transaction, each in its own mode; each call settles on its own."),
    summary, legend(), calls);
  return {
    el,
    update(r) {
      current = r;
      fill(badge, " ", statusBadge(r.status));
      fill(summary, section("Overview", facts([
        ["Transaction", txLink(r.tx_hash, true)],
        ["Block", blockLink(r.block_number)],
        ["Calls", String(r.calls.length)],
        ["Result after", r.t_result ? duration(r.t_result - r.t_request) : null],
        ["Trust gap", r.trust_gap_ms !== null && r.trust_gap_ms !== undefined ? duration(r.trust_gap_ms) : "open"],
      ])));
      draw(r);
    },
    tick() { draw(current); },
  };
}

/** Each call of a transaction (runMany, or a contract calling the precompile) with its
 *  timeline, all on one time axis, each linking to its own page. */
export function callTimelines(calls, heading = "h2") {
  const now = calls.every(isFinal) ? Math.max(...calls.map(lastTime)) : Math.max(devnetNow(), ...calls.map(lastTime));
  const start = Math.min(...calls.map((c) => c.t_request).filter(Number.isFinite));
  const end = Math.max(now, ...calls.map(lastTime));
  return calls.map((c) => h("section", { class: "card call", "data-testid": "call-timeline" },
    h(heading, {}, c.call_index === null || c.call_index === undefined ? "" : `Call ${c.call_index}: `,
      modeBadge(c.mode_name), " ", statusBadge(c.status), " ", inferenceLink(c.id || c.tx_hash, "details")),
    h("p", { class: "sentence" }, sentence(c)),
    h("div", { class: "timeline-wrap" }, timeline(c, { now, start, end, label: sentence(c) }))));
}

export function legend() {
  const item = (cls, text) => h("li", {}, h("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), text);
  return h("ul", { class: "legend", "aria-label": "Legend" },
    item("outcome-won", "won the race"), item("outcome-valid", "valid / agreed"), item("outcome-cancelled", "cancelled or late"),
    item("outcome-invalid", "invalid / failed"), item("outcome-running", "running"), item("gap", "trust gap"));
}

function at(r, key) {
  const t = r[key];
  return t ? `${clockTime(t)} (+${duration(t - r.t_request)})` : null;
}

function detailFacts(r) {
  return facts([
    ["Transaction", txLink(r.tx_hash, true)],
    ["Inference id", r.id !== r.tx_hash ? mono(r.id) : null],
    ["Model", h("a", { href: `/models#model-${r.model_id}`, class: "hash", title: r.model_id }, shortHash(r.model_id))],
    ["Verification", r.verification],
    ["Winner", r.winner_node !== null && r.winner_node !== undefined ? [nodeLink(r.winner_node), " ", addressLink(r.winner_address)] : null],
    ["Included in", r.block_number !== null && r.block_number !== undefined ? blockLink(r.block_number) : "not yet"],
    ["Settled in", r.settlement_block !== null && r.settlement_block !== undefined ? blockLink(r.settlement_block) : null],
    ["Requested", r.t_request ? clockTime(r.t_request) : null],
    ["Result", at(r, "t_result")],
    ["Included", at(r, "t_included")],
    ["Proof submitted", at(r, "t_proof_submitted")],
    ["Disputed", at(r, "t_disputed")],
    ["Settled", at(r, "t_settled")],
    ["Trust gap", r.trust_gap_ms !== null && r.trust_gap_ms !== undefined ? h("strong", {}, duration(r.trust_gap_ms)) : null],
    ["Fee paid", r.fee_paid && !r.llm ? opg(r.fee_paid) : null],
    ["Slashed", r.slashed && r.slashed !== "0" ? opg(r.slashed) : null],
    ["Rejection reason", r.rejection_reason ? h("span", { class: "error" }, r.rejection_reason) : null],
  ]);
}

/** An LLM gateway's answer: what the TEE signed, what the full node made of it, the batch
 *  that settled it and the x402 payment. */
function llmView(r) {
  const l = r.llm;
  const checked = r.status === "settled" ? h("span", { class: "ok", "data-testid": "llm-signature" }, "verified by the full node against the registry's key")
    : r.status === "rejected" ? h("span", { class: "error", "data-testid": "llm-signature" }, `rejected: ${r.rejection_reason || "the signature does not verify"}`)
    : h("span", { "data-testid": "llm-signature" }, "not checked yet (checked when its batch settles)");
  const pay = l.payment;
  return facts([
    ["answered by", ["TEE ", mono(l.tee_id), " of ", addressLink(l.node)]],
    ["signature", checked],
    ["signed at", l.timestamp ? `${clockTime(l.timestamp * 1000)} (unix ${l.timestamp})` : null],
    ["request hash", mono(l.request_hash)],
    ["output hash", mono(l.output_hash)],
    ["RSA-PSS signature", h("span", { class: "hash", title: l.signature }, shortHash(l.signature))],
    ["settlement", l.settlement_type === "private" ? "private: payment only, no hashes published" : l.settlement_type],
    ["batch", h("span", { "data-testid": "llm-batch" }, `#${l.batch_id} in `, txLink(l.batch_tx_hash, true))],
    ["Merkle root", l.merkle_root ? mono(l.merkle_root) : null],
    ["leaf", l.leaf ? [mono(l.leaf), ` (index ${l.leaf_index})`] : null],
    ["paid", pay ? h("span", { "data-testid": "llm-payment" }, opg(pay.amount), " by ", addressLink(pay.payer), pay.tx_hash ? [" in ", txLink(pay.tx_hash, true)] : "") : "free (--llm-free)"],
  ]);
}

function proofView(r) {
  if (r.llm) return llmView(r);
  const rows = [];
  if (r.proof && typeof r.proof === "object") {
    for (const [key, value] of Object.entries(r.proof)) {
      let shown = value;
      if (key.endsWith("_ms") && Number.isFinite(value)) shown = `${clockTime(value)} (${value})`;
      else if (key.endsWith("_bytes") && Number.isFinite(value)) shown = `${value.toLocaleString("en-US")} bytes`;
      else if (typeof value === "boolean") shown = value ? "yes" : "no";
      else if (typeof value === "string" && value.startsWith("0x")) shown = mono(value);
      else if (typeof value === "object") shown = h("pre", { class: "json" }, JSON.stringify(value, null, 2));
      rows.push([key.replaceAll("_", " "), shown]);
    }
  }
  rows.push(
    ["proof hash", r.proof_hash ? mono(r.proof_hash) : null],
    ["proof size", Number.isFinite(r.proof_bytes) ? `${r.proof_bytes.toLocaleString("en-US")} bytes` : r.proof_bytes],
    ["verifying key id", r.vk_id ? mono(r.vk_id) : null],
    ["bond", r.bond ? opg(r.bond) : null],
    ["challenge window ends", r.challenge_window_ends !== null && r.challenge_window_ends !== undefined ? ["block ", blockLink(r.challenge_window_ends)] : null],
    ["challenger", r.challenger ? addressLink(r.challenger, true) : null],
  );
  const list = facts(rows);
  if (list.children.length) return list;
  if (r.mode_name === "VANILLA") return h("p", { class: "empty" }, "None: VANILLA results carry no proof.");
  return h("p", { class: "empty" }, "Not submitted yet.");
}

function attemptsTable(r) {
  if (r.llm) return h("p", { class: "empty" }, "None: an LLM gateway answers over HTTPS itself; no PIPE race is run.");
  const rows = (r.attempts || []).map((a) => [
    [nodeLink(a.node), a.hedge ? h("span", { class: "tag" }, " hedge") : null],
    a.dispatched_ms ? `+${duration(a.dispatched_ms - r.t_request)}` : "–",
    a.started_ms && a.ended_ms ? duration(a.ended_ms - a.started_ms) : a.started_ms ? "running" : "queued",
    h("span", { class: `outcome outcome-${a.outcome}` }, a.outcome.replace("_", " ")),
    a.detail || "",
  ]);
  return table("Node attempts", ["Node", "Dispatched", "Ran for", "Outcome", "Detail"], rows, "No node has picked it up yet.");
}

function stepsTable(r) {
  const rows = (r.settlement_steps || []).map((step) => [
    h("span", { class: `outcome settle-${step.outcome}` }, step.outcome),
    blockLink(step.settlement_block),
    step.fee ? opg(step.fee) : "–",
    step.slashed && step.slashed !== "0" ? opg(step.slashed) : "–",
    step.challenger ? addressLink(step.challenger) : "–",
    step.reason || "",
  ]);
  const penalties = (r.penalties || []).map((p) => h("li", {}, typeof p === "object" ? penaltyWords(p) : String(p)));
  return [
    table("Settlement steps", ["Outcome", "Block", "Fee", "Slashed", "Challenger", "Reason"], rows, "Not settled yet."),
    penalties.length ? [h("h3", {}, "Penalties"), h("ul", {}, penalties)] : null,
  ];
}

/** A penalty record as "node 0x… · slashed 10 OPG · reason …": amounts in OPG, addresses linked. */
function penaltyWords(penalty) {
  return Object.entries(penalty).filter(([, v]) => v !== null && v !== "").map(([key, value], i) => {
    let shown = String(value);
    if (typeof value === "string" && /^0x[0-9a-fA-F]{40}$/.test(value)) shown = addressLink(value);
    else if (/slashed|fee|reward|bond|stake|amount/.test(key) && /^\d+$/.test(String(value))) shown = opg(value);
    return [i ? " · " : "", `${key.replaceAll("_", " ")} `, shown];
  });
}
