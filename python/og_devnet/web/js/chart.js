// The trust gap per verification mode as horizontal bars: p50 solid, out to p95 lighter.
// Modes are listed from the weakest guarantee to the strongest.

import { s } from "./dom.js";
import { duration, MODES_BY_STRENGTH as ORDER } from "./format.js";

const WIDTH = 1000;
const LABEL = 150;
const LEFT = LABEL + 14;
const RIGHT = WIDTH - 24;
const ROW = 76;
const TOP = 10;

function niceMax(value) {
  if (value <= 0) return 100;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((v) => v >= value);
}

/** perMode: {MODE: {p50, p95, samples}}. */
export function trustGapChart(perMode) {
  const modes = ORDER.filter((m) => perMode && m in perMode).concat(Object.keys(perMode || {}).filter((m) => !ORDER.includes(m)));
  const max = niceMax(Math.max(0, ...modes.map((m) => perMode[m]?.p95 ?? 0)));
  const x = (ms) => LEFT + (Math.min(ms, max) / max) * (RIGHT - LEFT);
  const height = TOP + modes.length * ROW + 40;
  const described = modes.map((m) => {
    const d = perMode[m];
    return d && d.samples ? `${m}: p50 ${duration(d.p50)}, p95 ${duration(d.p95)} over ${d.samples}` : `${m}: no samples`;
  }).join("; ");
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": `Trust gap per mode. ${described}`, "data-testid": "trust-gap-chart" });

  // Grid first so bars draw over it.
  const axisY = TOP + modes.length * ROW + 4;
  for (let i = 0; i <= 4; i++) {
    const value = (max / 4) * i;
    svg.append(
      s("line", { class: "grid", x1: x(value), x2: x(value), y1: TOP, y2: axisY }),
      s("text", { class: "tick", x: x(value), y: axisY + 26, "text-anchor": i === 4 ? "end" : "middle" }, i === 0 ? "0" : duration(value)));
  }
  modes.forEach((mode, i) => {
    const d = perMode[mode] || {};
    const y = TOP + i * ROW + ROW / 2;
    const cls = `mode-${mode.toLowerCase()}`;
    svg.append(s("text", { class: "lane-label", x: LABEL, y: y - 6, "text-anchor": "end" }, mode));
    if (!d.samples) {
      svg.append(s("text", { class: "waiting", x: LEFT + 6, y: y - 6 }, "no settled inferences yet"));
      return;
    }
    const p50 = x(d.p50), p95 = x(d.p95);
    svg.append(
      s("rect", { class: `chart-p95 ${cls}`, x: LEFT, y: y - 26, width: Math.max(p95 - LEFT, 3), height: 26, rx: 3 }),
      s("rect", { class: `chart-p50 ${cls}`, x: LEFT, y: y - 26, width: Math.max(p50 - LEFT, 3), height: 26, rx: 3 }),
      s("line", { class: "whisker", x1: p95, x2: p95, y1: y - 30, y2: y + 4 }),
      // The numbers go under the bar, where they never collide with it.
      s("text", { class: "chart-text", x: LEFT, y: y + 26 }, `p50 ${duration(d.p50)} · p95 ${duration(d.p95)} · ${d.samples} settled`));
  });
  svg.append(s("line", { class: "axis", x1: LEFT, x2: RIGHT, y1: axisY, y2: axisY }));
  return svg;
}
