// /teach: one sample inference per mode, racing side by side on one time axis, with slow
// motion. Timelines are drawn "as of" a virtual clock that runs at the chosen speed; it never
// runs ahead of the devnet's, so slow motion works while the inferences are still live.

import { get, post } from "../api.js";
import { h, fill } from "../dom.js";
import { isFinal, duration, MODES_BY_STRENGTH as ORDER } from "../format.js";
import { subscribe, throttle, devnetNow, every } from "../live.js";
import { sentence } from "../sentence.js";
import { timeline, raceChart, recordAt, lastTime } from "../timeline.js";
import { heading, modeBadge, statusBadge, inferenceLink } from "../ui.js";

const SPEEDS = [["1", "1×"], ["0.25", "0.25×"], ["0.1", "0.1×"]];
const GUARANTEE = {
  VANILLA: "No proof: you trust the node.",
  OPTIMISTIC: "A bond from the node's stake; a watcher may challenge it within a window.",
  TEE: "An enclave attestation, checked again by the full node in a later block.",
  ZKML: "A zero-knowledge proof of the model run, made after the answer and verified by the full node.",
};

export async function render(main, _params, signal) {
  let samples = []; // [{mode_name, tx_hash}]
  const records = new Map(); // tx hash → latest record
  const clock = { speed: 1, anchorReal: Date.now(), anchorVirtual: devnetNow() };
  const virtualNow = () => Math.min(devnetNow(), clock.anchorVirtual + (Date.now() - clock.anchorReal) * clock.speed);
  const setClock = (virtual, speed = clock.speed) => Object.assign(clock, { anchorReal: Date.now(), anchorVirtual: virtual, speed });
  const firstRequest = () => Math.min(...[...records.values()].map((r) => r.t_request).filter(Number.isFinite));

  const message = h("p", { class: "teach-message", role: "status", "aria-live": "polite" });
  const overview = h("div", { class: "timeline-wrap" });
  const clockText = h("span", { class: "virtual-clock", "aria-live": "off" });
  const lanes = h("div", { class: "race" });
  const sendButton = h("button", { type: "button", class: "primary", "data-testid": "send-samples" }, "Send a sample inference in each mode");
  const replayButton = h("button", { type: "button", disabled: true }, "Replay from the start");
  const speedPicker = h("fieldset", { class: "speed" }, h("legend", {}, "Speed"),
    SPEEDS.map(([value, text], i) => h("label", {},
      h("input", { type: "radio", name: "speed", value, checked: i === 0, onchange: () => setClock(virtualNow(), Number(value)) }), " ", text)));

  fill(main,
    heading("Teach: the trust gap"),
    h("p", { class: "lead" },
      "A result reaches you in milliseconds; the proof that it is right settles later, in another block. ",
      "Between the two you are trusting someone: that stretch is the ", h("strong", {}, "trust gap"), ". ",
      "Send one inference of the same model in each verification mode and watch them race."),
    h("div", { class: "teach-controls" }, sendButton, speedPicker, replayButton),
    message,
    h("section", { class: "card", "aria-label": "The race at a glance" },
      h("h2", {}, "The race at a glance ", clockText), overview),
    lanes);

  const load = async (list) => {
    samples = list;
    await refresh();
    setClock(Number.isFinite(firstRequest()) ? firstRequest() : devnetNow());
    replayButton.disabled = false;
  };

  const refresh = async () => {
    await Promise.all(samples.map(async ({ tx_hash }) => {
      const known = records.get(tx_hash);
      if (isFinal(known)) return;
      try {
        records.set(tx_hash, await get(`/api/inferences/${tx_hash}`, signal));
      } catch (error) {
        if (error.name === "AbortError") throw error;
        if (error.status !== 404) message.textContent = `Could not load ${tx_hash}: ${error.detail}`;
      }
    }));
  };
  const refreshSoon = throttle(refresh, 150);

  sendButton.addEventListener("click", async () => {
    sendButton.disabled = true;
    message.textContent = "Sending…";
    try {
      const sent = await post("/api/teach/samples", signal);
      records.clear();
      lanes.replaceChildren();
      history.replaceState(history.state, "", `/teach?txs=${sent.txs.map((t) => t.tx_hash).join(",")}`);
      await load(sent.txs);
      message.textContent = `Sent ${sent.txs.length} inferences: ${sent.txs.map((t) => t.mode_name).join(", ")}.`;
    } catch (error) {
      if (error.name !== "AbortError") message.textContent = `Could not send the samples: ${error.detail || error.message}`;
    } finally {
      sendButton.disabled = false;
    }
  });
  replayButton.addEventListener("click", () => {
    if (Number.isFinite(firstRequest())) setClock(firstRequest());
  });

  subscribe(["*"], (kind, data) => {
    const pending = samples.some(({ tx_hash }) => !isFinal(records.get(tx_hash)));
    if (pending && (kind === "block" || samples.some((t) => t.tx_hash === data.tx_hash))) refreshSoon();
  }, signal);
  every(3000, refreshSoon, signal);
  let finishedDrawn = null; // the finished race last drawn: no need to draw it again
  every(50, () => {
    const now = virtualNow();
    const known = samples.map((s) => records.get(s.tx_hash));
    const finished = known.length && known.every((r) => isFinal(r) && now >= lastTime(r)) ? known.map((r) => r.tx_hash).join() : null;
    if (finished && finished === finishedDrawn) return;
    draw({ lanes, overview }, samples, records, now);
    finishedDrawn = finished;
    const start = firstRequest();
    clockText.textContent = Number.isFinite(start) ? `t = ${duration(Math.max(0, now - start))} at ${clock.speed}×` : "";
  }, signal);

  // A race in the URL (after sending, or shared) is shown again on reload and Back.
  const fromUrl = new URLSearchParams(location.search).get("txs");
  // Only transaction hashes: the list comes from the address bar.
  const hashes = fromUrl ? fromUrl.split(",").filter((h) => /^0x[0-9a-fA-F]{64}$/.test(h)) : [];
  if (hashes.length) await load(hashes.map((tx_hash) => ({ tx_hash })));
}

/** One lane per sample on a shared time axis, each as it stood at `now`. */
function draw({ lanes: container, overview }, samples, records, now) {
  const known = samples.map((t) => records.get(t.tx_hash)).filter(Boolean)
    .sort((a, b) => ORDER.indexOf(a.mode_name) - ORDER.indexOf(b.mode_name));
  if (!known.length) {
    if (!overview.firstChild) fill(overview, h("p", { class: "empty" }, "Press the button to send the samples."));
    return;
  }
  const start = Math.min(...known.map((r) => r.t_request));
  const allDone = known.every((r) => isFinal(r) && now >= lastTime(r));
  const end = Math.max(start + 50, allDone ? Math.max(...known.map(lastTime)) : now);
  fill(overview, raceChart(known.map((r) => recordAt(r, now)), { now, start, end }));
  for (const record of known) {
    const view = recordAt(record, now);
    const lane = laneFor(container, record);
    fill(lane.badge, statusBadge(view.status));
    const words = sentence(view);
    if (lane.sentence.textContent !== words) lane.sentence.textContent = words;
    fill(lane.drawing, timeline(view, { now, start, end, label: words }));
  }
}

function laneFor(container, record) {
  const key = `lane-${record.mode_name}`;
  let el = container.querySelector(`[data-testid="${key}"]`);
  if (el && el.dataset.tx !== record.tx_hash) { el.remove(); el = null; }
  if (!el) {
    el = h("section", { class: "card lane", "data-testid": key, "data-tx": record.tx_hash },
      h("h2", {}, modeBadge(record.mode_name), " ", h("span", { class: "lane-badge" }), " ", inferenceLink(record.tx_hash, "details")),
      h("p", { class: "muted" }, GUARANTEE[record.mode_name] || ""),
      h("p", { class: "sentence" }),
      h("div", { class: "timeline-wrap" }));
    // Keep the lanes in guarantee order whatever order they arrive in.
    const after = [...container.children].find((c) => ORDER.indexOf(c.dataset.testid?.slice(5)) > ORDER.indexOf(record.mode_name));
    container.insertBefore(el, after || null);
  }
  return { badge: el.querySelector(".lane-badge"), sentence: el.querySelector(".sentence"), drawing: el.querySelector(".timeline-wrap") };
}
