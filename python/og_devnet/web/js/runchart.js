// A workflow's outputs over time in SVG: x = when each run was mined, y = its output (the
// first value of its first inference result). Runs that failed, or gave no output, have no
// y: they are marked with a red × on the time axis so gaps in the line are explained.

import { s } from "./dom.js";

const WIDTH = 1000;
const HEIGHT = 340;
const LEFT = 120;
const RIGHT = WIDTH - 30;
const TOP = 20;
const BOTTOM = HEIGHT - 60; // the time axis; failed runs sit just below it
const FAILED_Y = BOTTOM + 14;

/** An output as people read it: up to 6 significant digits. */
export function outputText(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return String(Number(value.toPrecision(6)));
}

const hasOutput = (run) => run.ok && Number.isFinite(run.output);
const wallClock = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false });

/** The y range: the outputs', padded, never empty (a constant output sits mid-plot). */
function yRange(values) {
  let lo = Math.min(...values), hi = Math.max(...values);
  const pad = hi > lo ? (hi - lo) * 0.1 : Math.abs(hi) * 0.1 || 1;
  return [lo - pad, hi + pad];
}

/** Whole-second times between t0 and t1 (ms), a round step apart, at most 6 of them. */
function timeTicks(t0, t1) {
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400]
    .map((sec) => sec * 1000).find((ms) => (t1 - t0) / ms <= 5) ?? 86_400_000;
  const out = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return out;
}

/** runs: the API's recentRuns, oldest first. Returns an <svg>. */
export function runChart(runs) {
  const values = runs.filter(hasOutput).map((r) => r.output);
  const [lo, hi] = values.length ? yRange(values) : [0, 1];
  const times = runs.map((r) => r.timestampMs);
  // One run (or several in one ms) still gets a span, so x never divides by zero.
  const t0 = Math.min(...times), t1 = Math.max(Math.max(...times), t0 + 2000);
  const x = (t) => LEFT + ((t - t0) / (t1 - t0)) * (RIGHT - LEFT);
  const y = (v) => BOTTOM - ((v - lo) / (hi - lo)) * (BOTTOM - TOP);
  const failed = runs.length - values.length;
  const last = runs[runs.length - 1];
  const svg = s("svg", {
    class: "chart run-chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "data-testid": "run-chart",
    "aria-label": `Output of ${runs.length} runs from ${wallClock(t0)} to ${wallClock(last.timestampMs)}` +
      `${failed ? `, ${failed} without an output` : ""}; latest ${hasOutput(last) ? outputText(last.output) : "failed"}.`,
  });

  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    svg.append(
      s("line", { class: "grid", x1: LEFT, x2: RIGHT, y1: y(v), y2: y(v) }),
      s("text", { class: "tick", x: LEFT - 10, y: y(v) + 5, "text-anchor": "end" }, outputText(v)));
  }
  for (const t of timeTicks(t0, t1)) {
    svg.append(
      s("line", { class: "axis", x1: x(t), x2: x(t), y1: BOTTOM, y2: BOTTOM + 6 }),
      s("text", { class: "tick", x: x(t), y: HEIGHT - 12, "text-anchor": x(t) > RIGHT - 40 ? "end" : "middle" }, wallClock(t)));
  }
  svg.append(
    s("line", { class: "axis", x1: LEFT, x2: RIGHT, y1: BOTTOM, y2: BOTTOM }),
    s("line", { class: "axis", x1: LEFT, x2: LEFT, y1: TOP, y2: BOTTOM }));

  // The line joins runs with an output, in time order; a failed run breaks it.
  let segment = [];
  const flush = () => {
    if (segment.length > 1) svg.append(s("polyline", { class: "run-line", points: segment.join(" ") }));
    segment = [];
  };
  for (const run of runs) {
    if (hasOutput(run)) segment.push(`${x(run.timestampMs)},${y(run.output)}`);
    else flush();
  }
  flush();

  for (const run of runs) {
    const cx = x(run.timestampMs);
    const ok = hasOutput(run);
    const label = `Block #${run.block}, ${wallClock(run.timestampMs)}: ${ok ? `output ${outputText(run.output)}` : run.ok ? "no output" : "failed"}`;
    const common = { "data-testid": "run-point", "data-tx": run.txHash, "data-ok": String(ok), "data-output": ok ? run.output : null };
    const mark = ok
      ? s("circle", { ...common, class: "run-point", cx, cy: y(run.output), r: 6 })
      : s("path", { ...common, class: "run-point failed", d: `M${cx - 6},${FAILED_Y - 6}l12,12m0,-12l-12,12` });
    mark.append(s("title", {}, label));
    svg.append(mark);
  }
  return svg;
}
