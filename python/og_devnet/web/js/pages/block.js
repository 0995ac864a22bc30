// /block/<number or hash>: header fields, its transactions and the settlements it records.

import { get } from "../api.js";
import { h, fill, facts, table } from "../dom.js";
import { opg, clockTime, MODES } from "../format.js";
import { blockLink, txLink, addressLink, inferenceLink, nodeLink, modeBadge, timeAgo, heading, section, mono } from "../ui.js";

export async function render(main, [id], signal) {
  const b = await get(`/api/blocks/${encodeURIComponent(id)}`, signal);
  const number = Number(b.number);
  fill(main,
    heading(`Block #${b.number}`),
    h("nav", { class: "pager", "aria-label": "Neighbouring blocks" },
      number > 0 ? h("a", { href: `/block/${number - 1}`, rel: "prev" }, `← #${number - 1}`) : null,
      h("a", { href: `/block/${number + 1}`, rel: "next" }, `#${number + 1} →`)),
    section("Header", facts([
      ["Hash", mono(b.hash)],
      ["Parent", b.number > 0 ? h("a", { href: `/block/${b.parent_hash}`, class: "hash" }, b.parent_hash) : mono(b.parent_hash)],
      ["Time", [clockTime(b.timestamp_ms), " (", timeAgo(b.timestamp_ms), ")"]],
      ["Gas used", `${Number(b.gas_used).toLocaleString("en-US")} of ${Number(b.gas_limit).toLocaleString("en-US")}`],
      ["Miner", addressLink(b.miner, true)],
      ["State root", mono(b.state_root)],
      ["Settlements root", b.settlements_root ? mono(b.settlements_root) : null],
    ])),
    section(`Transactions (${b.transactions.length})`, table("Transactions", ["Hash", "From", "To", "Value", "Status", "Kind"],
      b.transactions.map((t) => [
        txLink(t.hash), addressLink(t.from), toCell(t), opg(t.value), statusWord(t.status), txKind(t),
      ]), "No transactions in this block.")),
    section(`Settlements (${b.settlements.length})`,
      h("p", { class: "lead" }, "Proofs and bonds for results delivered in earlier blocks, checked and settled here."),
      table("Settlements", ["Inference", "Mode", "Node", "Outcome", "Reason"],
        b.settlements.map((st) => [
          inferenceLink(st.id || st.tx_hash), modeBadge(st.mode_name ?? MODES[st.mode] ?? st.mode),
          typeof st.node === "number" ? nodeLink(st.node) : addressLink(st.node),
          h("span", { class: `outcome settle-${st.outcome}` }, st.outcome), st.reason || "",
        ]), "No settlements in this block.")));
}

export function statusWord(status) {
  if (status === null || status === undefined) return h("span", { class: "muted" }, "pending");
  const ok = status === 1 || status === "0x1" || status === "success" || status === true;
  return h("span", { class: ok ? "ok" : "error" }, ok ? "success" : "reverted");
}

/** The "To" cell: the recipient, or for a creation the contract it made. */
export function toCell(t) {
  if (!t.to && t.contract_address) return ["new ", addressLink(t.contract_address)];
  return addressLink(t.to);
}

/** What a transaction is, in a word; `toContract`: its recipient is known to hold code. */
export function txKind(t, toContract = false) {
  if (t.is_inference) return inferenceLink(t.hash, "inference");
  if (!t.to) return "contract creation";
  return toContract ? "contract call" : "transfer";
}
