"""The explorer's home page API calls stay fast on a big store.

One devnet (manual mining, SQLite in a temporary state directory). First the baseline: the
home page's calls (/api/status, /api/blocks, /api/inferences, /api/stats) timed on a fresh
chain. Then the store is filled through the real path — 5,000 inference transactions (VANILLA
and TEE, run by the nodes, sealed into blocks, TEE results settled) and empty blocks up to
10,000 — and the same calls are timed again. Prints p50/p95/max per call and the p95 ratio.

    python bench/explorer_api.py [--blocks 10000] [--inferences 5000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import httpx
import numpy as np

from og_devnet import Devnet
from og_devnet._core import encode_run_call

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
HOME_CALLS = ["/api/status", "/api/blocks?limit=20", "/api/inferences?limit=20", "/api/stats"]
SAMPLE = [{"name": "input", "values": [["25", "2"], ["-15", "1"], ["3", "0"], ["125", "3"]], "shape": [1, 4]}]


def rpc(url: str, method: str, params: list) -> object:
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=120).json()["result"]


def time_calls(client: httpx.Client, base: str, repeat: int) -> dict[str, np.ndarray]:
    out = {}
    for path in HOME_CALLS:
        client.get(base + path).raise_for_status()  # warm
        ms = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            client.get(base + path).raise_for_status()
            ms.append((time.perf_counter() - t0) * 1000)
        out[path] = np.array(ms)
    return out


def fill(node: Devnet, blocks: int, inferences: int) -> None:
    url = node.rpc_url
    mlp = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
    senders = rpc(url, "eth_accounts", [])
    sent = 0
    while sent < inferences:
        n = min(500, inferences - sent)
        batch = []
        for i in range(n):
            mode = 2 if (sent + i) % 2 else 0
            data = "0x" + encode_run_call(mlp, mode, json.dumps(SAMPLE), "[]").hex()
            batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
                          "params": [{"from": senders[(sent + i) % len(senders)], "to": HUB, "data": data, "gas": hex(400_000)}]})  # fmt: skip
        httpx.post(url, json=batch, timeout=120).raise_for_status()
        sent += n
        # Seal until this batch is in (the nodes answer in ms; a block takes what is decided).
        while int(rpc(url, "txpool_status", [])["pending"], 16) + int(rpc(url, "txpool_status", [])["queued"], 16) > 0:
            node.mine(1)
        print(f"  {sent} inferences mined, height {node.chain.head()}", flush=True)
    node.mine(2)  # the last TEE proofs settle
    while node.chain.head() < blocks:
        node.mine(min(500, blocks - node.chain.head()))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--blocks", type=int, default=10_000)
    ap.add_argument("--inferences", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; SQLite store")
    with Devnet(mining="manual", zkml=False) as node, httpx.Client(timeout=30) as client:
        node.mine(1)
        before = time_calls(client, node.url, args.repeat)
        t0 = time.monotonic()
        fill(node, args.blocks, args.inferences)
        print(f"filled in {time.monotonic() - t0:.0f} s: {node.chain.head()} blocks, "
              f"{client.get(node.url + '/api/stats').json()['counts']['inferences']} inferences")  # fmt: skip
        after = time_calls(client, node.url, args.repeat)
    print(f"{'call':<26} {'fresh p95':>10} {'full p50':>9} {'full p95':>9} {'full max':>9} {'p95 ratio':>10}  (ms)")
    for path in HOME_CALLS:
        a, b = before[path], after[path]
        print(f"{path:<26} {np.percentile(a, 95):>10.1f} {np.percentile(b, 50):>9.1f} {np.percentile(b, 95):>9.1f} "
              f"{b.max():>9.1f} {np.percentile(b, 95) / np.percentile(a, 95):>10.2f}")  # fmt: skip
    worst = max(np.percentile(after[p], 95) for p in HOME_CALLS)
    print(f"slowest home call p95 on the full store: {worst:.1f} ms (bound: 100 ms)")


if __name__ == "__main__":
    main()
