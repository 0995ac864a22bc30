// An inference's life drawn to scale in SVG: the request, each node attempt as a lane,
// the result, the block that included it, proof submission and settlement, with the trust
// gap (result → settlement) shaded. Everything is drawn "as of" a time `now`, so the same
// code shows a live inference (now = the clock) and a slow-motion replay (now = virtual).

import { s } from "./dom.js";
import { duration, nodeName } from "./format.js";

const WIDTH = 1000;
const LABEL_WIDTH = 150;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = WIDTH - 20;
const ROW = 32;
const TOP = 44; // room for the trust-gap label above the lanes
const AXIS = 34;

// A gap that ended badly says so next to its length.
const BAD_END = { rejected: ", then rejected", slashed: ", then slashed" };
const TIMES = ["t_request", "t_result", "t_included", "t_proof_submitted", "t_disputed", "t_settled"];

/** The last moment the record knows about. */
export function lastTime(record) {
  const times = TIMES.map((k) => record[k]).filter(Number.isFinite);
  for (const a of record.attempts || []) times.push(...[a.dispatched_ms, a.started_ms, a.ended_ms].filter(Number.isFinite));
  return times.length ? Math.max(...times) : 0;
}

/** The record as it stood at `now`: later times hidden, status and attempts as they were. */
export function recordAt(record, now) {
  if (now >= lastTime(record)) return record;
  const view = { ...record };
  for (const key of TIMES) if (view[key] > now) view[key] = null;
  if (!view.t_included) view.block_number = null;
  if (!view.t_settled) {
    Object.assign(view, { settlement_block: null, trust_gap_ms: null, rejection_reason: null, settlement_steps: [] });
  }
  // The status of the step the record had reached: its block gave it `delivered_status`
  // (a live record not yet stored is still at that step).
  if (view.t_settled) view.status = record.status;
  else if (view.t_disputed) view.status = "disputed";
  else if (view.t_included) view.status = record.delivered_status ?? record.status;
  else if (view.t_result) view.status = "result_ready";
  else view.status = "pending";
  view.attempts = (record.attempts || []).filter((a) => a.dispatched_ms <= now).map((a) => {
    if (a.ended_ms !== null && a.ended_ms <= now) return a;
    const running = a.started_ms !== null && a.started_ms <= now;
    return { ...a, ended_ms: null, outcome: running ? "running" : "queued" };
  });
  return view;
}

/** Tick labels are centred under their tick, except at the right edge where they would be cut. */
export const tickAnchor = (x) => (x > PLOT_RIGHT - 30 ? "end" : "middle");

/** Round tick steps (1, 2, 5 × 10^k ms) giving about `count` ticks over `span` ms. */
function ticks(span, count = 6) {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((v) => v >= raw) || power * 10;
  const out = [];
  for (let t = 0; t <= span + 1e-9; t += step) out.push(t);
  return out;
}

/**
 * record: an inference record; options: now (ms), start/end (the time axis, so several
 * timelines can share one scale). Returns an <svg>.
 */
export function timeline(record, { now, start, end, label } = {}) {
  const t0 = start ?? record.t_request ?? now;
  const t1 = Math.max(end ?? Math.max(lastTime(record), now), t0 + 10);
  const x = (t) => PLOT_LEFT + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * (PLOT_RIGHT - PLOT_LEFT);
  const lanes = buildLanes(record, now);
  const height = TOP + lanes.length * ROW + AXIS;
  const svg = s("svg", {
    class: "timeline", viewBox: `0 0 ${WIDTH} ${height}`, role: "img",
    "aria-label": label || `Timeline of inference ${record.id}`, "data-testid": "timeline",
  });

  // The trust gap: shaded behind every lane, open-ended (hatched) until settlement.
  if (record.t_result) {
    const gapEnd = record.t_settled ?? now;
    const open = !record.t_settled;
    const left = x(record.t_result);
    const w = Math.max(x(gapEnd) - left, 2);
    const gapMs = record.trust_gap_ms ?? gapEnd - record.t_result;
    svg.append(
      s("rect", { class: `gap${open ? " gap-open" : ""}`, x: left, y: TOP - 8, width: w, height: lanes.length * ROW + 8 }),
      s("line", { class: "gap-bracket", x1: left, x2: left + w, y1: TOP - 10, y2: TOP - 10 }),
      s("text", {
        class: "gap-label", x: Math.min(left + 4, PLOT_RIGHT - 4), y: TOP - 18, "data-testid": "trust-gap",
        "text-anchor": left + 4 > PLOT_RIGHT - 260 ? "end" : "start",
      }, open ? `trust gap: ${duration(gapMs)} so far` : `trust gap: ${duration(gapMs)}${BAD_END[record.status] || ""}`));
  }

  lanes.forEach((lane, i) => {
    const y = TOP + i * ROW + ROW / 2;
    svg.append(
      s("line", { class: "lane-rule", x1: PLOT_LEFT, x2: PLOT_RIGHT, y1: y, y2: y }),
      s("text", { class: `lane-label${lane.hedge ? " hedge" : ""}`, x: LABEL_WIDTH, y: y + 5, "text-anchor": "end" }, lane.label));
    if (lane.bar) drawBar(svg, lane, x, y);
    else if (lane.at) drawMarker(svg, lane, x(lane.at), y);
    else if (lane.waiting) svg.append(s("text", { class: "waiting", x: Math.min(x(now) + 8, PLOT_RIGHT), y: y + 5, "text-anchor": x(now) > PLOT_RIGHT - 200 ? "end" : "start" }, lane.waiting));
  });

  // Time axis, in ms after the request.
  const axisY = TOP + lanes.length * ROW + 6;
  svg.append(s("line", { class: "axis", x1: PLOT_LEFT, x2: PLOT_RIGHT, y1: axisY, y2: axisY }));
  for (const t of ticks(t1 - t0)) {
    const tx = x(t0 + t);
    svg.append(
      s("line", { class: "axis", x1: tx, x2: tx, y1: axisY, y2: axisY + 6 }),
      s("text", { class: "tick", x: tx, y: axisY + 24, "text-anchor": tickAnchor(tx) }, t === 0 ? "0" : duration(t)));
  }
  if (now < t1 && now > t0) {
    svg.append(s("line", { class: "now-line", x1: x(now), x2: x(now), y1: TOP - 8, y2: axisY }));
  }
  return svg;
}

function buildLanes(r, now) {
  const lanes = [{ label: "request", at: r.t_request, text: "request sent", cls: "request" }];
  for (const a of r.attempts || []) {
    lanes.push({
      label: nodeName(a.node) + (a.hedge ? " (hedge)" : ""), hedge: a.hedge, cls: `outcome-${a.outcome}`,
      bar: [a.dispatched_ms, a.started_ms ?? a.dispatched_ms, a.ended_ms ?? now],
      text: `${a.outcome.replace("_", " ")}${a.ended_ms ? " · " + duration(a.ended_ms - a.dispatched_ms) : ""}${a.detail ? " · " + a.detail : ""}`,
    });
  }
  const waiting = (text) => (r.status === "failed" ? null : text);
  lanes.push(r.t_result
    ? { label: "result", at: r.t_result, text: `delivered by ${nodeName(r.winner_node)} (+${duration(r.t_result - r.t_request)})`, cls: "result" }
    : { label: "result", waiting: waiting("waiting for a valid result…") });
  lanes.push(r.t_included
    ? { label: "block", at: r.t_included, text: `included in block ${r.block_number}`, cls: "block" }
    : { label: "block", waiting: waiting("not yet in a block") });
  if (r.mode_name === "TEE" || r.mode_name === "ZKML") {
    lanes.push(r.t_proof_submitted
      ? { label: "proof", at: r.t_proof_submitted, text: r.mode_name === "ZKML" ? "ZK proof submitted" : "attestation submitted", cls: "proof" }
      : { label: "proof", waiting: waiting(r.mode_name === "ZKML" ? "proving…" : "attestation not submitted yet") });
  }
  if (r.t_disputed) lanes.push({ label: "challenge", at: r.t_disputed, text: "challenged by a watcher", cls: "disputed" });
  const outcome = r.status === "rejected" ? "rejected" : r.status === "slashed" ? "slashed" : "settled";
  lanes.push(r.t_settled
    ? { label: "settlement", at: r.t_settled, text: `${outcome} in block ${r.settlement_block}`, cls: `settle-${outcome}` }
    : { label: "settlement", waiting: waiting(r.mode_name === "OPTIMISTIC" && r.challenge_window_ends ? `challengeable until block ${r.challenge_window_ends}` : "not settled yet") });
  return lanes;
}

/** Text after a shape spanning left..right; near the right edge, before it; and if there is
 *  no room before it either (a wide shape), inside it at its right end. */
function placeText(svg, left, right, y, text, cls) {
  const room = 300;
  let x = right + 8, anchor = "start";
  if (right > PLOT_RIGHT - room) {
    anchor = "end";
    x = left - PLOT_LEFT > room ? left - 8 : right - 14;
  }
  svg.append(s("text", { class: `lane-text ${cls || ""}`, x, y: y + 5, "text-anchor": anchor }, text));
}

function drawBar(svg, lane, x, y) {
  const [dispatched, started, ended] = lane.bar;
  const queuedWidth = x(started) - x(dispatched);
  if (queuedWidth > 0.5) svg.append(s("rect", { class: `bar queued ${lane.cls}`, x: x(dispatched), y: y - 4, width: queuedWidth, height: 8 }));
  const left = x(started);
  const width = Math.max(x(ended) - left, 4); // a 1 ms run is still visible
  svg.append(s("rect", { class: `bar ${lane.cls}`, x: left, y: y - 10, width, height: 20, rx: 3 },
    s("title", {}, lane.text)));
  placeText(svg, left, left + width, y, lane.text, lane.cls);
}

function drawMarker(svg, lane, cx, y) {
  svg.append(s("path", { class: `marker ${lane.cls}`, d: `M${cx} ${y - 9} L${cx + 9} ${y} L${cx} ${y + 9} L${cx - 9} ${y} Z` },
    s("title", {}, lane.text)));
  placeText(svg, cx - 9, cx + 9, y, lane.text, lane.cls);
}

/**
 * The race at a glance: one row per record (already viewed "as of" now) on a shared axis,
 * showing only what a class needs: when the result came, and how long its gap stayed open.
 */
export function raceChart(records, { now, start, end }) {
  const x = (t) => PLOT_LEFT + ((Math.min(Math.max(t, start), end) - start) / (end - start)) * (PLOT_RIGHT - PLOT_LEFT);
  const height = 12 + records.length * ROW + AXIS;
  const svg = s("svg", { class: "timeline race-chart", viewBox: `0 0 ${WIDTH} ${height}`, role: "img",
    "aria-label": "The modes side by side: result arrival and trust gap", "data-testid": "race-chart" });
  records.forEach((r, i) => {
    const y = 12 + i * ROW + ROW / 2;
    svg.append(
      s("line", { class: "lane-rule", x1: PLOT_LEFT, x2: PLOT_RIGHT, y1: y, y2: y }),
      s("text", { class: "lane-label", x: LABEL_WIDTH, y: y + 5, "text-anchor": "end" }, r.mode_name));
    if (!r.t_result) return;
    const gapEnd = r.t_settled ?? now;
    const left = x(r.t_result);
    const right = Math.max(x(gapEnd), left + 3);
    const outcome = r.t_settled ? (r.status === "settled" ? "settled" : r.status) : null;
    svg.append(s("rect", { class: `gap${outcome ? "" : " gap-open"}`, x: left, y: y - 10, width: right - left, height: 20 }));
    svg.append(s("path", { class: "marker result", d: `M${left} ${y - 8} L${left + 8} ${y} L${left} ${y + 8} L${left - 8} ${y} Z` }));
    if (outcome) svg.append(s("path", { class: `marker settle-${outcome}`, d: `M${right} ${y - 8} L${right + 8} ${y} L${right} ${y + 8} L${right - 8} ${y} Z` }));
    const words = outcome ? `${outcome} after ${duration(r.trust_gap_ms ?? gapEnd - r.t_result)}` : `open ${duration(gapEnd - r.t_result)}`;
    placeText(svg, left - 8, right + 8, y, words, outcome ? `settle-${outcome}` : "");
  });
  const axisY = 12 + records.length * ROW + 6;
  svg.append(s("line", { class: "axis", x1: PLOT_LEFT, x2: PLOT_RIGHT, y1: axisY, y2: axisY }));
  for (const t of ticks(end - start)) {
    svg.append(s("text", { class: "tick", x: x(start + t), y: axisY + 24, "text-anchor": tickAnchor(x(start + t)) }, t === 0 ? "0" : duration(t)));
  }
  if (now < end) svg.append(s("line", { class: "now-line", x1: x(now), x2: x(now), y1: 4, y2: axisY }));
  return svg;
}
