// /address/<addr>: balance, nonce, whether it is a node's stake or a contract (its code size
// and creation transaction), and its transactions.

import { get } from "../api.js";
import { h, fill, facts, table } from "../dom.js";
import { opg } from "../format.js";
import { blockLink, txLink, addressLink, nodeLink, heading, section, mono } from "../ui.js";
import { statusWord, toCell, txKind } from "./block.js";

const NATIVE = {
  inference_hub: "the inference hub (native contract)",
  inference_precompile: "the inference precompile: contracts call it to run a model",
  tee_registry: "the TEE registry (native contract)",
};

export async function render(main, [address], signal) {
  const a = await get(`/api/accounts/${encodeURIComponent(address)}?limit=50`, signal);
  fill(main,
    heading(a.is_contract ? "Contract" : "Address"),
    h("p", {}, mono(a.address), a.is_contract ? [" ", h("span", { class: "badge kind-contract", "data-testid": "kind" }, "contract")] : null),
    section("Account", facts([
      ["Balance", h("strong", {}, opg(a.balance))],
      ["Nonce", String(a.nonce)],
      ["Identity of", a.node !== null && a.node !== undefined ? [nodeLink(a.node), " (the inference node's own address)"] : null],
      ["Stake of", a.stake_of !== null && a.stake_of !== undefined ? [nodeLink(a.stake_of), " (this account holds the node's stake)"] : null],
      ["Role", a.is_watcher ? "the watcher: it re-executes OPTIMISTIC results and challenges wrong ones" : null],
    ])),
    a.is_contract ? section("Contract", facts([
      ["Kind", a.native_contract ? NATIVE[a.native_contract] || a.native_contract : "contract"],
      ["Code size", h("span", { "data-testid": "code-size" }, `${Number(a.code_size).toLocaleString("en-US")} bytes`)],
      ["Created by", a.creation_tx
        ? h("span", { "data-testid": "creation-tx" }, txLink(a.creation_tx), " in block ", blockLink(a.creation_block))
        : h("span", { class: "muted" }, a.native_contract ? "built into the devnet" : "no creation transaction (genesis code, set by anvil_setCode, or created by a contract)")],
    ])) : null,
    section("Transactions", table("Transactions", ["Hash", "Block", "From", "To", "Value", "Status", "Kind"],
      (a.txs || []).map((t) => [
        txLink(t.hash), blockLink(t.block_number), addressLink(t.from),
        toCell(t),
        opg(t.value), statusWord(t.status),
        txKind(t, a.is_contract && t.to === a.address.toLowerCase()),
      ]), "No transactions from or to this address.")));
}
