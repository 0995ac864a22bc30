// /models: each model's kind, id, modes and ZKML status, and what each mode costs and
// guarantees (from the quote endpoint), with a value-at-risk box that recommends a mode.

import { get, query } from "../api.js";
import { h, fill, facts, table } from "../dom.js";
import { duration, opg } from "../format.js";
import { heading, section, modeBadge, mono } from "../ui.js";

/** "12.5" OPG → wei as a decimal string (BigInt keeps it exact). */
function opgToWei(text) {
  const match = /^\s*(\d*)(?:\.(\d{0,18}))?\s*$/.exec(text);
  if (!match || (!match[1] && !match[2])) return null;
  return (BigInt(match[1] || "0") * 10n ** 18n + BigInt((match[2] || "").padEnd(18, "0"))).toString();
}

export async function render(main, _params, signal) {
  const models = await get("/api/models", signal);
  const quotes = new Map(models.map((m) => [m.id, h("div", {}, h("p", { class: "loading" }, "Loading prices…"))]));
  const input = h("input", { id: "value-at-risk", type: "text", inputmode: "decimal", placeholder: "e.g. 50", autocomplete: "off" });
  const message = h("p", { class: "error", role: "status" });

  const loadQuotes = async (valueAtRisk) => {
    await Promise.all(models.map(async (m) => {
      const el = quotes.get(m.id);
      try {
        fill(el, quoteView(await get(`/api/models/${m.id}/quote${query({ value_at_risk: valueAtRisk })}`, signal)));
      } catch (error) {
        if (error.name !== "AbortError") fill(el, h("p", { class: "error" }, `Prices unavailable: ${error.detail || error.message}`));
      }
    }));
  };
  const form = h("form", {
    class: "inline-form",
    onsubmit: (event) => {
      event.preventDefault();
      const wei = input.value.trim() ? opgToWei(input.value) : null;
      message.textContent = input.value.trim() && wei === null ? "Enter an amount in OPG, such as 50 or 0.5." : "";
      if (message.textContent) return;
      loadQuotes(wei);
    },
  }, h("label", { for: "value-at-risk" }, "Value at risk (OPG)"), input, h("button", { type: "submit" }, "Recommend a mode"));

  fill(main,
    heading("Models"),
    h("p", { class: "lead" }, "Each mode secures results up to a value: VANILLA nothing, OPTIMISTIC the bond, TEE the assurance, ZKML any value. Enter what a wrong answer would cost you to get a recommendation."),
    form, message,
    models.map((m) => h("section", { class: "card", id: `model-${m.id}` },
      h("h2", {}, m.name, " ", h("span", { class: "badge" }, m.kind)),
      facts([
        ["Id", mono(m.id)],
        ["Modes", h("span", {}, (m.modes || []).map((mode) => [modeBadge(mode), " "]))],
        ["ZKML", m.zkml === "ready" ? h("span", { class: "ok" }, "ready") : h("span", { class: "muted" }, m.zkml || "–")],
        ["Inputs", ioWords(m.inputs)],
        ["Outputs", ioWords(m.outputs)],
        ["Size", m.size ? `${Number(m.size).toLocaleString("en-US")} bytes` : null],
        ["Registered", m.registered_at ? new Date(m.registered_at * (m.registered_at < 1e12 ? 1000 : 1)).toLocaleString("en-GB") : null],
      ]),
      h("h3", {}, "Price and guarantee per mode"),
      quotes.get(m.id))));
  await loadQuotes(null);
}

function ioWords(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return list.map((io) => `${io.name} ${io.dtype || ""} [${(io.shape || []).join("×")}]`).join(", ");
}

function quoteView(q) {
  const rows = (q.modes || []).map((m) => [
    [modeBadge(m.name), q.recommendation === m.name || q.recommendation?.name === m.name ? h("strong", { class: "ok" }, " recommended") : null],
    m.supported ? (m.price_opg !== undefined ? `${m.price_opg} OPG` : opg(m.price)) : h("span", { class: "muted" }, "not supported"),
    m.latency_ms?.samples ? `${duration(m.latency_ms.p50)} / ${duration(m.latency_ms.p95)}` : "–",
    m.trust_gap_ms?.samples ? `${duration(m.trust_gap_ms.p50)} / ${duration(m.trust_gap_ms.p95)}` : "–",
    !m.supported ? "–" : m.secures_up_to === null || m.secures_up_to === undefined ? "any value" : securesWords(m.secures_up_to),
    m.guarantee || "",
  ]);
  return [
    table("Quote", ["Mode", "Price", "Result p50 / p95", "Trust gap p50 / p95", "Secures up to", "Guarantee"], rows, "No quote."),
    q.recommendation ? h("p", { class: "recommendation", "data-testid": "recommendation" }, "Recommended: ",
      h("strong", {}, typeof q.recommendation === "string" ? q.recommendation : q.recommendation.name),
      q.recommendation.reason ? `: ${q.recommendation.reason}.` : "") : null,
    q.rule ? h("details", { class: "rule" }, h("summary", {}, "How the recommendation is made"), h("pre", { class: "prose muted" }, q.rule)) : null,
  ];
}

function securesWords(value) {
  if (typeof value === "string" && !/^(0x[0-9a-f]+|\d+)$/i.test(value)) return value;
  return opg(value);
}
