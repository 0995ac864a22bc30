// Placeholder explorer: polls /api/status and shows the chain height live.
"use strict";
async function refresh() {
  try {
    const r = await fetch("/api/status");
    if (!r.ok) return;
    const s = await r.json();
    document.getElementById("height").textContent = s.block_number;
    document.getElementById("chain").textContent = `chain ${s.chain_id}`;
    const m = s.mining;
    document.getElementById("mining").textContent = m.mode === "interval" ? `every ${m.block_time} s` : m.mode;
    document.getElementById("mempool").textContent = `${s.mempool.ready} ready, ${s.mempool.queued} queued`;
  } catch (e) {
    document.getElementById("height").textContent = "node unreachable";
  }
}
refresh();
setInterval(refresh, 500);
