// JSON over /api. A network failure (the devnet stopped or restarting) shows a banner and is
// thrown as ApiError with status 0, so pages can say so instead of breaking.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

const banner = () => document.getElementById("banner");

/** Shows or hides the "devnet unreachable" banner (also used by the event stream). */
export function setReachable(reachable) {
  const el = banner();
  if (!el) return;
  el.hidden = reachable;
  if (!reachable) el.textContent = `Cannot reach the devnet at ${location.origin}. Is og-devnet up still running? Retrying…`;
}

function detailOf(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return `HTTP ${status}`;
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { headers: { accept: "application/json" }, ...options });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    setReachable(false);
    throw new ApiError(0, "the devnet is unreachable");
  }
  setReachable(true);
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: leave body null */ }
  if (!response.ok) throw new ApiError(response.status, detailOf(body, response.status));
  return body;
}

export const get = (path, signal) => request(path, { signal });
export const post = (path, signal) => request(path, { method: "POST", signal });

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}
