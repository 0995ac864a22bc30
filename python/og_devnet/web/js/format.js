// Formatting of chain values for people: durations, OPG amounts, hashes, times, tensors.

// The explorer's one table of modes: names by number, as the core's Mode (records carry both
// `mode` and `mode_name`; a settlement step only its number).
export const MODES = ["VANILLA", "ZKML", "TEE", "OPTIMISTIC"];
/** Mode names from the cheapest and weakest guarantee to the dearest and strongest. */
export const MODES_BY_STRENGTH = [0, 3, 2, 1].map((n) => MODES[n]);
export const FINAL_STATUSES = new Set(["settled", "rejected", "slashed", "failed", "partly_rejected"]);

export function isFinal(record) {
  return !!record && FINAL_STATUSES.has(record.status);
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1).replace(/\.?0+$/, "")} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Wei (decimal string, 0x hex string or number) as OPG with up to 6 decimals. */
export function opg(wei) {
  if (wei === null || wei === undefined || wei === "") return "–";
  let value;
  try { value = BigInt(wei); } catch { return String(wei); }
  const negative = value < 0n;
  if (negative) value = -value;
  const unit = 10n ** 18n;
  const whole = value / unit;
  const fraction = ((value % unit) * 1_000_000n) / unit;
  let text = whole.toLocaleString("en-US");
  if (fraction > 0n) text += "." + fraction.toString().padStart(6, "0").replace(/0+$/, "");
  else if (value > 0n && whole === 0n) text = "< 0.000001";
  return `${negative ? "−" : ""}${text} OPG`;
}

export function shortHash(hash, keep = 8) {
  if (!hash || hash.length <= keep * 2 + 3) return hash || "";
  return `${hash.slice(0, keep + 2)}…${hash.slice(-keep + 2)}`;
}

export function clockTime(ms) {
  if (!ms) return "–";
  const d = new Date(ms);
  return d.toLocaleTimeString("en-GB", { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export function ago(ms, now = Date.now()) {
  const seconds = Math.max(0, (now - ms) / 1000);
  if (seconds < 1) return "just now";
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

/** A fixed-point pair [value, decimals] (strings or numbers) as a JS number string. */
export function fixedPoint([value, decimals]) {
  const digits = Number(decimals);
  try {
    const big = BigInt(value);
    if (digits <= 0) return big.toString();
    const negative = big < 0n;
    const text = (negative ? -big : big).toString().padStart(digits + 1, "0");
    const whole = text.slice(0, -digits);
    const fraction = text.slice(-digits).replace(/0+$/, "");
    return `${negative ? "−" : ""}${whole}${fraction ? "." + fraction : ""}`;
  } catch {
    return String(Number(value) / 10 ** digits);
  }
}

/** "node-2" for node index 2; the words the sentences use. */
export function nodeName(index) {
  return index === null || index === undefined ? "no node" : `node-${index}`;
}
