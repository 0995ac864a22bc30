// Home: the chain height and block time (live), the trust gap per mode, the latest blocks
// and inferences, and the nodes.

import { get } from "../api.js";
import { h, fill, table } from "../dom.js";
import { duration, opg } from "../format.js";
import { subscribe, throttle, every } from "../live.js";
import { trustGapChart } from "../chart.js";
import { unreachable } from "./node.js";
import { blockLink, inferenceLink, nodeLink, modeBadge, statusBadge, timeAgo, heading, section } from "../ui.js";

export async function render(main, _params, signal) {
  const height = h("span", { class: "big-number", "data-testid": "height" }, "…");
  const blockTime = h("span", { class: "big-number small" }, "…");
  const blockTimeNote = h("span", { class: "stat-note" });
  const chainId = h("span", { class: "big-number small" }, "…");
  const lastBlock = h("span", { class: "big-number small" }, "…");
  const counts = h("span", { class: "big-number small" }, "…");
  const chart = h("div", { class: "chart-wrap" });
  const blockList = h("div");
  const inferenceList = h("div");
  const nodeList = h("div");

  fill(main,
    heading("Chain"),
    h("div", { class: "stat-strip" },
      stat("Height", height), stat("Block time", blockTime, blockTimeNote), stat("Last block", lastBlock),
      stat("Inferences", counts), stat("Chain id", chainId)),
    section("Trust gap per mode",
      h("p", { class: "lead" }, "How long after a result arrives its proof settles: the time you must trust the node. p50 solid, p95 light."),
      chart),
    h("div", { class: "columns home-lists" },
      section("Latest blocks", blockList),
      section("Latest inferences", inferenceList)),
    section("Nodes", nodeList));

  // Each panel loads on its own, so one failing endpoint leaves the others working.
  const refreshStatus = panel("/api/status", chainId, signal, (st) => {
    height.textContent = String(st.block_number);
    blockTimeNote.textContent = miningWords(st.mining);
    if (blockTime.textContent === "…" && st.mining?.mode !== "interval") blockTime.textContent = "–";
    chainId.textContent = String(st.chain_id);
  });
  const refreshBlocks = panel("/api/blocks?limit=10", blockList, signal, (b) => {
    fill(blockList, blocksTable(b.items));
    blockTime.textContent = measuredBlockTime(b.items) ?? blockTime.textContent;
    if (b.items[0]) fill(lastBlock, timeAgo(b.items[0].timestamp_ms));
  });
  const refreshInferences = panel("/api/inferences?limit=10", inferenceList, signal, (i) => fill(inferenceList, inferencesTable(i.items)));
  const refreshStats = panel("/api/stats", chart, signal, (st) => {
    fill(chart, trustGapChart(st.trust_gap_ms));
    const c = st.counts || {};
    counts.textContent = `${c.inferences ?? 0} · ${c.settled ?? 0} settled`;
  }, 1000);
  const refreshNodes = panel("/api/nodes", nodeList, signal, (n) => fill(nodeList, nodesTable(n)), 1000);
  for (const refresh of [refreshStatus, refreshBlocks, refreshInferences, refreshStats, refreshNodes]) refresh();

  subscribe(["*"], (kind, data) => {
    if (kind === "block") {
      height.textContent = String(data.number);
      refreshBlocks();
      refreshNodes();
    } else if (kind === "node_fault" || kind === "penalised") {
      refreshNodes();
    } else if (kind !== "workflow_run") { // a run's inference comes as its own event
      refreshInferences();
      if (kind !== "inference" && kind !== "proof_submitted") refreshStats();
    }
  }, signal);
  // Polling as well, slower: the page stays right if the event stream is down.
  every(2000, () => { refreshStatus(); refreshBlocks(); }, signal);
  every(5000, () => { refreshInferences(); refreshStats(); refreshNodes(); }, signal);
}

/** A throttled loader of `path` into a panel; until it first succeeds, errors show in `el`. */
function panel(path, el, signal, show, ms = 400) {
  let loaded = false;
  return throttle(async () => {
    try {
      show(await get(path, signal));
      loaded = true;
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!loaded) fill(el, h("span", { class: "error" }, `Could not load ${path}: ${error.detail || error.message}`));
    }
  }, ms);
}

function stat(label, ...value) {
  return h("div", { class: "stat" }, h("span", { class: "stat-label" }, label), ...value);
}

function miningWords(mining) {
  if (!mining) return "";
  if (mining.mode === "interval") return `interval mining, target ${mining.block_time} s`;
  if (mining.mode === "auto") return "automine: a block per transaction";
  return mining.mode === "manual" ? "manual mining" : String(mining.mode);
}

/** The mean interval between the latest blocks, as measured (not as configured). */
function measuredBlockTime(items) {
  if (items.length < 2) return null;
  const span = items[0].timestamp_ms - items[items.length - 1].timestamp_ms;
  return `${(span / (items.length - 1) / 1000).toFixed(2)} s`;
}

function blocksTable(items) {
  return table("Latest blocks", ["Block", "Age", "Txs", "Settlements"], items.map((b) => [
    blockLink(b.number), timeAgo(b.timestamp_ms), String(b.tx_count), String(b.settlement_count ?? 0),
  ]), "No blocks yet.");
}

function inferencesTable(items) {
  return table("Latest inferences", ["Inference", "Mode", "Status", "Result", "Trust gap"], items.map((i) => [
    inferenceLink(i.id), [modeBadge(i.mode_name), i.llm ? h("span", { class: "tag", title: "answered by an LLM gateway over HTTPS" }, " LLM") : null],
    statusBadge(i.status),
    i.t_result && i.t_request ? duration(i.t_result - i.t_request) : "–",
    i.trust_gap_ms !== null && i.trust_gap_ms !== undefined ? duration(i.trust_gap_ms) : "open",
  ]), "No inferences yet. Send one, or try the teaching view.");
}

export function nodesTable(nodes) {
  return table("Nodes", ["Node", "Fault", "Wins", "Penalties", "Stake", "Latency p50 / p95"], nodes.map((n) => [
    nodeLink(n.id),
    h("span", { class: `fault fault-${n.fault}${unreachable(n) ? " unhealthy" : ""}` }, unreachable(n) ? `${n.fault} (unreachable)` : n.fault),
    String(n.wins), String(n.penalties ?? 0), opg(n.stake),
    n.latency_ms?.count ? `${duration(n.latency_ms.p50)} / ${duration(n.latency_ms.p95)}` : "–",
  ]), "No nodes.");
}
