"""Blocks keep their interval under an inference flood.

One in-process devnet, --block-time 0.5, 4 nodes all slow (slow:20 plus 20 ms network delay).
Measures block intervals twice in the same run: idle (the baseline), then while 500 queued
inferences work their way through the slow nodes. Prints p50/p99/max of both, the p99 ratio,
and the inference throughput.

    python bench/inference_flood.py [--jobs 500] [--idle-seconds 5]
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
from og_devnet.inference.fixedpoint import model_input

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"


def call(url: str, method: str, params: list) -> object:
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60).json()["result"]


def stamps(url: str, first: int, last: int) -> list[int]:
    return [int(call(url, "eth_getBlockByNumber", [hex(n), False])["timestampMs"], 16) for n in range(first, last + 1)]


def summary(intervals: list[int]) -> str:
    a = np.array(intervals)
    return f"p50 {np.percentile(a, 50):.0f} ms  p99 {np.percentile(a, 99):.0f} ms  max {a.max()} ms  ({len(a)} intervals)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    faults = {i: "slow:20" for i in range(4)}
    with Devnet(block_time=0.5, node_faults=faults, node_delay_ms=20) as node:
        url = node.rpc_url
        mlp = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
        while int(call(url, "eth_blockNumber", []), 16) < 1:
            time.sleep(0.05)
        a = int(call(url, "eth_blockNumber", []), 16)
        time.sleep(args.idle_seconds)
        b = int(call(url, "eth_blockNumber", []), 16)
        s = stamps(url, a, b)
        idle = [y - x for x, y in zip(s, s[1:])]

        sender = call(url, "eth_accounts", [])[0]
        rng = np.random.default_rng(1)
        batch = []
        for i in range(args.jobs):
            numbers, _ = model_input({"input": rng.normal(size=(1, 4)).astype(np.float32)})
            data = "0x" + encode_run_call(mlp, 0, json.dumps(numbers), "[]").hex()
            batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
                          "params": [{"from": sender, "to": HUB, "data": data, "gas": hex(300_000)}]})  # fmt: skip
        c = int(call(url, "eth_blockNumber", []), 16)
        t0 = time.monotonic()
        httpx.post(url, json=batch, timeout=120)
        while int(call(url, "eth_getTransactionCount", [sender, "latest"]), 16) < args.jobs:
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        d = int(call(url, "eth_blockNumber", []), 16)
        s = stamps(url, c, d)
        loaded = [y - x for x, y in zip(s, s[1:])]
        stats = call(url, "og_pipeStats", [])

    print("block time 0.5 s, 4 nodes slow:20 + 20 ms delay")
    print(f"idle:    {summary(idle)}")
    print(f"flood:   {summary(loaded)}")
    print(f"p99 ratio flood/idle: {np.percentile(loaded, 99) / np.percentile(idle, 99):.3f}")
    print(f"{args.jobs} inferences mined in {elapsed:.1f} s ({args.jobs / elapsed:.1f}/s) over {d - c} blocks; "
          f"executions {stats['executions']}, hedges {stats['hedges']}, retries {stats['retries']}")  # fmt: skip


if __name__ == "__main__":
    main()
