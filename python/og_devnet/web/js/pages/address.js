// /address/<addr>: balance, nonce, whether it is a node's stake, and its transactions.

import { get } from "../api.js";
import { h, fill, facts, table } from "../dom.js";
import { opg } from "../format.js";
import { blockLink, txLink, addressLink, nodeLink, inferenceLink, heading, section, mono } from "../ui.js";
import { statusWord } from "./block.js";

export async function render(main, [address], signal) {
  const a = await get(`/api/accounts/${encodeURIComponent(address)}?limit=50`, signal);
  fill(main,
    heading("Address"),
    h("p", {}, mono(a.address)),
    section("Account", facts([
      ["Balance", h("strong", {}, opg(a.balance))],
      ["Nonce", String(a.nonce)],
      ["Identity of", a.node !== null && a.node !== undefined ? [nodeLink(a.node), " (the inference node's own address)"] : null],
      ["Stake of", a.stake_of !== null && a.stake_of !== undefined ? [nodeLink(a.stake_of), " (this account holds the node's stake)"] : null],
      ["Role", a.is_watcher ? "the watcher: it re-executes OPTIMISTIC results and challenges wrong ones" : null],
    ])),
    section("Transactions", table("Transactions", ["Hash", "Block", "From", "To", "Value", "Status", "Kind"],
      (a.txs || []).map((t) => [
        txLink(t.hash), blockLink(t.block_number), addressLink(t.from), addressLink(t.to), opg(t.value), statusWord(t.status),
        t.is_inference ? inferenceLink(t.hash, "inference") : "transfer",
      ]), "No transactions from or to this address.")));
}
