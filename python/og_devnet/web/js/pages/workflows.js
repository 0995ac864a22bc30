// /workflows: the workflow scheduler's tasks, each with its model, price query, frequency,
// runs and next run. Live: polled every second and on each mined run.

import { get } from "../api.js";
import { h, fill, table } from "../dom.js";
import { shortHash } from "../format.js";
import { every, subscribe, throttle } from "../live.js";
import { outputText } from "../runchart.js";
import { addressLink, heading, section } from "../ui.js";
import { dateTime, queryWords, seconds } from "./workflow.js";

export async function render(main, _params, signal) {
  const body = h("div", { "data-testid": "workflows" });
  fill(main,
    heading("Workflows"),
    h("p", { class: "lead" }, "Tasks of the workflow scheduler (0x7179…8eF6): the chain itself sends run() to each task's contract, from 0xff…fe, once per period until its end time. The SDK's new_workflow creates one."),
    section("Tasks", body));
  let drawn = "";
  const draw = (tasks) => {
    // Redrawn only when something changed, and with focus kept on the same link.
    const json = JSON.stringify(tasks);
    if (json === drawn) return;
    drawn = json;
    const focused = body.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    fill(body, tasksTable(tasks));
    if (focused) body.querySelector(`a[href="${CSS.escape(focused)}"]`)?.focus();
  };
  draw(await get("/api/workflows?recent=1", signal));
  const refresh = throttle(async () => draw(await get("/api/workflows?recent=1", signal)), 250);
  subscribe(["workflow_run"], refresh, signal);
  every(1000, refresh, signal);
}

function tasksTable(tasks) {
  return table("Workflow tasks", ["Task", "Contract", "Model", "Query", "Every", "Runs", "Failed", "Last output", "Next run", "State"],
    tasks.map((t) => {
      const last = t.recentRuns[t.recentRuns.length - 1];
      const stateWord = t.cancelled ? "cancelled" : t.active ? "active" : "ended";
      return [
        h("a", { href: `/workflow/${t.id}`, "data-testid": "workflow-link" }, `#${t.id}`),
        addressLink(t.contract),
        t.modelId ? h("a", { href: `/models#model-${t.modelId}`, class: "hash", title: t.modelId }, shortHash(t.modelId)) : "–",
        t.query ? queryWords(t.query) : "–",
        seconds(t.frequency),
        String(t.runs), String(t.failures),
        last ? (last.ok ? outputText(last.output) : h("span", { class: "error" }, "failed")) : "–",
        t.active ? dateTime(t.nextRun) : "–",
        h("span", { class: `badge workflow-${stateWord}` }, stateWord),
      ];
    }), "No workflow tasks yet. Create one with the SDK's new_workflow, or call registerTask on the scheduler.");
}
