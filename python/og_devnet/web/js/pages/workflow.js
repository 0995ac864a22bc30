// /workflow/<id>: one task of the workflow scheduler: its contract, owner, model, price query
// and end time, and each run's output over time (a plot and a table). Live: polled every
// second, and sooner when the event stream says one of its runs was mined. Each run expands
// into its inference timeline (the same lanes the tx page draws).

import { get } from "../api.js";
import { h, fill, facts } from "../dom.js";
import { clockTime, duration, isFinal, shortHash } from "../format.js";
import { every, subscribe, throttle } from "../live.js";
import { outputText, runChart } from "../runchart.js";
import { addressLink, blockLink, heading, mono, section, txLink } from "../ui.js";
import { callTimelines, legend } from "./inference.js";

/** Runs the page asks for: enough to plot, and what the API gives by default. */
const RECENT = 200;

export async function render(main, [id], signal) {
  const path = `/api/workflows/${encodeURIComponent(id)}?recent=${RECENT}`;
  const [first, models] = await Promise.all([get(path, signal), modelNames(signal)]);
  const state = h("span", { "data-testid": "task-state" });
  const counts = h("span", { "data-testid": "run-count" });
  const nextRun = h("span");
  const chart = h("div", { class: "chart-wrap" });
  const shown = h("p", { class: "muted" });
  const rows = h("tbody");
  const runs = new Map(); // txHash → its rows, so new runs are added and open timelines stay open
  fill(main,
    heading(`Workflow #${first.id}`, " ", state),
    section("Task", facts([
      ["Contract", addressLink(first.contract, true)],
      ["Owner", addressLink(first.owner, true)],
      ["Model", modelCell(first.modelId, models)],
      ["Input tensor", first.inputName ? mono(first.inputName) : null],
      ["Price query", first.query ? h("span", { "data-testid": "query" }, queryWords(first.query, true)) : null],
      ["Frequency", `every ${seconds(first.frequency)}`],
      ["Ends", dateTime(first.endTime)],
      ["Next run", nextRun],
      ["Runs", counts],
    ])),
    section("Output over time",
      h("p", { class: "lead" }, "The first value of each run's first inference result, at the time its block was mined. × marks a run that failed or gave no output."),
      chart),
    section("Runs", shown, h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, "Runs, newest first"),
      h("thead", {}, h("tr", {}, ["Block", "Due", "Mined", "Late by", "Result", "Output", "Transaction", "Inference"].map((name) => h("th", { scope: "col" }, name)))),
      rows))));

  const update = (task) => {
    const stateWord = task.cancelled ? "cancelled" : task.active ? "active" : "ended";
    fill(state, h("span", { class: `badge workflow-${stateWord}` }, stateWord));
    counts.textContent = `${task.runs} (${task.failures} failed)`;
    nextRun.textContent = task.active ? dateTime(task.nextRun) : "–";
    const recent = task.recentRuns;
    shown.textContent = recent.length < task.runs ? `The latest ${recent.length} of ${task.runs} runs, newest first.` : "Newest first.";
    if (recent.length) fill(chart, runChart(recent));
    else fill(chart, h("p", { class: "empty" }, task.active ? "No runs yet: the scheduler sends the first when it falls due." : "No runs."));
    // Runs never change once mined: add the new ones on top, drop those past the window.
    const kept = new Set(recent.map((r) => r.txHash));
    for (const [hash, shownRun] of runs) if (!kept.has(hash)) { shownRun.rows.forEach((tr) => tr.remove()); runs.delete(hash); }
    for (const run of recent) {
      if (runs.has(run.txHash)) continue;
      const shownRun = runRows(run, signal);
      runs.set(run.txHash, shownRun);
      rows.prepend(...shownRun.rows);
    }
  };
  update(first);
  const refresh = throttle(async () => update(await get(path, signal)), 250);
  subscribe(["workflow_run"], (_kind, data) => { if (data.contract?.toLowerCase() === first.contract.toLowerCase()) refresh(); }, signal);
  every(1000, refresh, signal); // the event stream may be down; the page stays live anyway
  every(1000, () => runs.forEach((r) => r.follow()), signal);
}

/** A run's row and, under it, the row its inference timeline opens into; `follow` reloads
 *  an open timeline until its inference is final. */
function runRows(run, signal) {
  const detail = h("td", { colspan: "8" });
  const detailRow = h("tr", { class: "run-detail", hidden: true }, detail);
  let record = null;
  let loading = false;
  const load = async () => {
    if (loading || isFinal(record) || detailRow.hidden) return;
    loading = true;
    try {
      record = await get(`/api/inferences/${encodeURIComponent(run.txHash)}`, signal);
      fill(detail, legend(), callTimelines(record.many ? record.calls : [record], "h3"));
    } catch (error) {
      if (error.name === "AbortError") return;
      fill(detail, h("p", { class: error.status === 404 ? "empty" : "error" }, error.status === 404
        ? "No inference record: the run failed before its inference was asked for."
        : `Could not load the timeline: ${error.detail || error.message}`));
    } finally {
      loading = false;
    }
  };
  const toggle = h("button", { type: "button", "aria-expanded": "false", "data-testid": "run-toggle" }, "Show timeline");
  toggle.addEventListener("click", () => {
    detailRow.hidden = !detailRow.hidden;
    toggle.setAttribute("aria-expanded", String(!detailRow.hidden));
    toggle.textContent = detailRow.hidden ? "Show timeline" : "Hide timeline";
    if (!record) fill(detail, h("p", { class: "loading" }, "Loading…"));
    load();
  });
  const late = run.timestampMs - run.due * 1000;
  const row = h("tr", { "data-testid": "run", "data-tx": run.txHash },
    [blockLink(run.block), clockTime(run.due * 1000), clockTime(run.timestampMs), duration(late),
      run.ok ? h("span", { class: "ok" }, "ok") : h("span", { class: "error" }, "failed"),
      h("span", { "data-testid": "run-output" }, run.ok ? outputText(run.output) : "–"),
      txLink(run.txHash), toggle].map((cell) => h("td", {}, cell)));
  return { rows: [row, detailRow], follow: load };
}

async function modelNames(signal) {
  try {
    return new Map((await get("/api/models", signal)).map((m) => [m.id, m.name]));
  } catch (error) {
    if (error.name === "AbortError") throw error;
    return new Map(); // names are a nicety: the ids still show
  }
}

function modelCell(modelId, names) {
  if (modelId === null || modelId === undefined) return h("span", { class: "muted" }, "not an SDK workflow contract");
  const name = names.get(modelId);
  return h("a", { href: `/models#model-${modelId}`, title: modelId }, name ? [name, " ", h("span", { class: "hash muted" }, shortHash(modelId))] : h("span", { class: "hash" }, shortHash(modelId)));
}

/** "ETH/USD 10×1m" (long: with the order), as the CLI says it. */
export function queryWords(q, long = false) {
  const words = `${q.base}/${q.quote} ${q.totalCandles}×${q.candleDurationMins}m`;
  return long ? `${words}: ${q.totalCandles} candles of ${q.candleDurationMins} min, ${q.order === 1 ? "newest" : "oldest"} first` : words;
}

export const seconds = (n) => (n === 1 ? "second" : n % 3600 === 0 ? `${n / 3600} h` : n % 60 === 0 ? `${n / 60} min` : `${n} s`);

/** A chain time in seconds as a local date and time. */
export const dateTime = (sec) => new Date(sec * 1000).toLocaleString("en-GB", { hour12: false });
