// /node/<index>: an inference node's fault mode, health, stake, race record and latency.

import { get } from "../api.js";
import { h, fill, facts, table } from "../dom.js";
import { duration, opg } from "../format.js";
import { subscribe, throttle, every } from "../live.js";
import { addressLink, inferenceLink, modeBadge, statusBadge, heading, section } from "../ui.js";

export async function render(main, [index], signal) {
  const body = h("div");
  const recent = h("div");
  fill(main, heading(`Node ${index}`), body, section("Recent wins", recent));
  const show = (n) => fill(body,
    unreachable(n) ? h("p", { class: "banner-inline", role: "status" }, `This node is ${n.fault === "down" ? "down" : "unhealthy"}: it does not answer, so its attempts time out and races go on without it.`) : null,
    h("div", { class: "columns" },
      section("Identity", facts([
        ["Address", addressLink(n.address, true)],
        ["Fault mode", h("span", { class: `fault fault-${n.fault}` }, n.fault)],
        ["Healthy", n.healthy === false ? "no" : "yes"],
        ["Stake", h("strong", {}, opg(n.stake))],
        ["Stake account", addressLink(n.stake_address, true)],
        ["Marked", n.marked ? "yes (caught lying)" : "no"],
        ["Queue", `${n.queued ?? 0} queued, ${n.running ?? 0} running`],
        ["Routing", n.estimate_ms == null ? "not timed yet" : `estimate ${duration(n.estimate_ms)}, ${Math.round((n.dispatch_share ?? 0) * 100)} % of recent dispatches`],
        ["Batching", n.batch_window_ms ? `window ${n.batch_window_ms} ms; ${n.batched_jobs ?? 0} jobs in ${n.batches ?? 0} batches` : "off"],
        ["Devices", devices(n.devices)],
      ])),
      section("Race record", facts([
        ["Wins", String(n.wins)], ["Agreed", String(n.agreed ?? 0)], ["Late", String(n.late ?? 0)],
        ["Cancelled", String(n.cancelled ?? 0)], ["Failures", String(n.failures ?? 0)], ["Timeouts", String(n.timeouts ?? 0)],
        ["Invalid", String(n.invalid ?? 0)], ["Disagreements", String(n.disagreements ?? 0)], ["Penalties", String(n.penalties ?? 0)],
      ]))),
    section("Latency", latency(n.latency_ms)));
  show(await get(`/api/nodes/${encodeURIComponent(index)}`, signal));

  const refresh = throttle(async () => show(await get(`/api/nodes/${encodeURIComponent(index)}`, signal)), 1000);
  const refreshWins = throttle(async () => {
    const list = await get(`/api/inferences?limit=10&node=${encodeURIComponent(index)}`, signal);
    fill(recent, table("Recent wins", ["Inference", "Mode", "Status", "Trust gap"], list.items.map((i) => [
      inferenceLink(i.id), modeBadge(i.mode_name), statusBadge(i.status),
      i.trust_gap_ms !== null && i.trust_gap_ms !== undefined ? duration(i.trust_gap_ms) : "open",
    ]), "No inferences won by this node yet."));
  }, 1000);
  refreshWins();
  subscribe(["node_fault", "penalised", "settled", "slashed", "rejected"], () => { refresh(); refreshWins(); }, signal);
  every(3000, refresh, signal);
}

/** Which device each runtime uses, and why not the one asked for. */
const devices = (d) => {
  if (!d) return "unknown";
  const used = Object.entries(d.runtimes ?? {}).map(([kind, r]) => `${kind} on ${r.device}${r.fallback ? ` (${r.fallback})` : ""}`);
  return `${used.join("; ") || "no model loaded"} (--device ${d.requested}${d.reason ? `: ${d.reason}` : ""})`;
};

/** Down by its fault mode, or judged unhealthy by PIPE from timeouts. */
export const unreachable = (n) => n.healthy === false || n.fault === "down";

function latency(l) {
  if (!l || !l.count) return h("p", { class: "empty" }, "No results yet.");
  return facts([
    ["Results timed", String(l.count)], ["p50", duration(l.p50)], ["p95", duration(l.p95)], ["p99", duration(l.p99)],
  ], "facts wide");
}
