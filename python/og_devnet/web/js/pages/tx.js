// /tx/<hash>: a transaction, its receipt logs, and its inference when it carries one.

import { get } from "../api.js";
import { h, fill, facts } from "../dom.js";
import { opg, shortHash } from "../format.js";
import { sentence } from "../sentence.js";
import { blockLink, addressLink, inferenceLink, modeBadge, statusBadge, heading, section, mono } from "../ui.js";
import { statusWord } from "./block.js";

export async function render(main, [hash], signal) {
  const t = await get(`/api/txs/${encodeURIComponent(hash)}`, signal);
  const inf = t.inference;
  fill(main,
    heading("Transaction", " ", h("span", { class: "hash heading-hash", title: t.hash }, shortHash(t.hash))),
    section("Overview", facts([
      ["Hash", mono(t.hash)],
      ["Status", statusWord(t.status)],
      ["Block", blockLink(t.block_number)],
      ["From", addressLink(t.from, true)],
      ["To", addressLink(t.to, true)],
      ["Value", opg(t.value)],
      ["Nonce", String(t.nonce)],
      ["Gas used", t.gas_used !== null && t.gas_used !== undefined ? Number(t.gas_used).toLocaleString("en-US") : null],
      ["Gas price", t.effective_gas_price ? `${(Number(BigInt(t.effective_gas_price)) / 1e9).toLocaleString("en-US")} gwei` : null],
    ])),
    inf ? section("Inference", inferenceSummary(inf)) : null,
    section("Input data", h("pre", { class: "calldata" }, t.input || "0x")),
    section(`Logs (${(t.logs || []).length})`, (t.logs || []).length
      ? t.logs.map((log) => h("div", { class: "log" }, facts([
        ["Address", addressLink(log.address, true)],
        ["Topics", (log.topics || []).map((topic) => h("code", { class: "mono" }, topic))],
        ["Data", h("code", { class: "mono wrap" }, log.data)],
      ])))
      : h("p", { class: "empty" }, "No logs.")));
}

function inferenceSummary(inf) {
  const calls = inf.many ? inf.calls : [inf];
  return [
    h("p", {}, inferenceLink(inf.tx_hash || inf.id, inf.many ? `Open the ${calls.length} calls' timelines` : "Open the timeline"), " ", statusBadge(inf.status)),
    h("ul", { class: "plain" }, calls.map((c) => h("li", {}, modeBadge(c.mode_name), " ", sentence(c)))),
  ];
}
