// One shared EventSource for /api/events. Pages subscribe with an AbortSignal, so leaving a
// page unsubscribes it. The browser reconnects by itself and resumes with Last-Event-ID.

import { setReachable } from "./api.js";

const KINDS = ["block", "inference", "proof_submitted", "settled", "rejected", "slashed",
  "disputed", "penalised", "node_fault", "workflow_run"];
const listeners = new Set();
let outageTimer = null; // the banner waits a moment: a single dropped stream is not an outage
let source = null;
let lastEventId = null; // resumed from if we have to reopen the stream ourselves
let clockSkew = null; // browser clock minus the devnet's, from block timestamps

function indicator(text, state) {
  const el = document.getElementById("live-indicator");
  if (!el) return;
  el.textContent = text;
  el.dataset.state = state;
}

function dispatch(kind, event) {
  let data;
  try { data = JSON.parse(event.data); } catch { return; }
  if (kind === "block" && data.timestamp_ms) {
    const skew = Date.now() - data.timestamp_ms;
    clockSkew = clockSkew === null ? skew : Math.min(clockSkew, skew);
  }
  for (const listener of [...listeners]) {
    if (listener.kinds.has(kind) || listener.kinds.has("*")) {
      try { listener.fn(kind, data); } catch (error) { console.warn("live listener failed", error); }
    }
  }
}

export function start() {
  if (source || typeof EventSource === "undefined") return;
  source = new EventSource(lastEventId === null ? "/api/events" : `/api/events?since=${lastEventId}`);
  source.onopen = () => {
    indicator("live", "open");
    clearTimeout(outageTimer);
    outageTimer = null;
    setReachable(true);
  };
  source.onerror = () => {
    outageTimer ??= setTimeout(() => setReachable(false), 3000);
    // CONNECTING: the browser retries by itself. CLOSED: it gave up (e.g. a non-SSE answer);
    // try again later ourselves.
    if (source.readyState === EventSource.CLOSED) {
      indicator("offline", "closed");
      source = null;
      setTimeout(start, 3000);
    } else {
      indicator("reconnecting…", "connecting");
    }
  };
  for (const kind of KINDS) {
    source.addEventListener(kind, (event) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      dispatch(kind, event);
    });
  }
  // Events were missed (the node restarted, or a revert rewrote history): redraw the page.
  source.addEventListener("reset", () => window.dispatchEvent(new Event("og-devnet:reset")));
}

/** Calls fn(kind, data) for each event of the given kinds ("*" for all) until signal aborts. */
export function subscribe(kinds, fn, signal) {
  const listener = { kinds: new Set(kinds), fn };
  listeners.add(listener);
  signal?.addEventListener("abort", () => listeners.delete(listener), { once: true });
}

/** The devnet's clock in ms, estimated from block timestamps (same machine: Date.now()). */
export function devnetNow() {
  return Date.now() - (clockSkew ?? 0);
}

/** Runs fn at most once per `ms`, trailing call kept; errors are logged, not thrown. */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(async () => {
      last = Date.now();
      try { await fn(); } catch (error) { if (error.name !== "AbortError") console.debug(error); }
      finally { timer = null; }
    }, wait);
  };
}

/** setInterval bound to an AbortSignal. */
export function every(ms, fn, signal) {
  const id = setInterval(fn, ms);
  signal.addEventListener("abort", () => clearInterval(id), { once: true });
}
