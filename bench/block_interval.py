"""Block interval under load: does block production keep its rhythm while the RPC is busy?

Runs one in-process devnet with --block-time 0.2 and measures the intervals between block
timestamps (ms) twice in the same run: idle (the baseline) and while a client floods
eth_sendRawTransaction. Prints p50/p99/max for both and the p99 ratio (load / idle).

    python bench/block_interval.py [--seconds 5] [--txs 3000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import threading
import time

import httpx
from eth_account import Account

from og_devnet import Devnet

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def intervals(node: Devnet, first: int, last: int) -> list[int]:
    stamps = []
    for n in range(first, last + 1):
        block = httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": [hex(n), False]}).json()["result"]
        stamps.append(int(block["timestampMs"], 16))
    return [b - a for a, b in zip(stamps, stamps[1:])]


def pct(xs: list[int], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def height(node: Devnet) -> int:
    return int(httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).json()["result"], 16)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--txs", type=int, default=3000)
    args = ap.parse_args()
    acct = Account.from_key(KEY)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    with Devnet(block_time=0.2) as node:
        chain_id = node.chain.chain_id
        raws = [
            "0x" + acct.sign_transaction({"to": "0x" + "11" * 20, "value": 1, "gas": 21000, "gasPrice": 2 * 10**9,
                                          "nonce": i, "chainId": chain_id}).raw_transaction.hex()
            for i in range(args.txs)
        ]  # fmt: skip
        time.sleep(0.5)
        a = height(node)
        time.sleep(args.seconds)
        b = height(node)
        idle = intervals(node, a, b)

        sent = 0

        def flood() -> None:
            nonlocal sent
            with httpx.Client() as c:
                for i in range(0, len(raws), 20):
                    batch = [{"jsonrpc": "2.0", "id": j, "method": "eth_sendRawTransaction", "params": [r]} for j, r in enumerate(raws[i:i + 20])]
                    c.post(node.rpc_url, json=batch, timeout=30)
                    sent += len(batch)

        t = threading.Thread(target=flood)
        c0 = height(node)
        t0 = time.monotonic()
        t.start()
        t.join()
        flood_s = time.monotonic() - t0
        time.sleep(0.5)
        c1 = height(node)
        loaded = intervals(node, c0, c1)
        mined = int(httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount", "params": [acct.address, "latest"]}).json()["result"], 16)

    print(f"block time 0.2 s; idle {len(idle)} intervals, under load {len(loaded)} intervals")
    print(f"idle:   p50 {pct(idle, .5):.0f} ms  p99 {pct(idle, .99):.0f} ms  max {max(idle)} ms")
    print(f"loaded: p50 {pct(loaded, .5):.0f} ms  p99 {pct(loaded, .99):.0f} ms  max {max(loaded)} ms "
          f"({sent} txs sent in {flood_s:.2f} s = {sent / flood_s:.0f} tx/s through JSON-RPC, {mined} mined)")
    print(f"ratio p99 loaded/idle: {pct(loaded, .99) / pct(idle, .99):.2f}")
    print(f"mean interval idle {statistics.mean(idle):.1f} ms, loaded {statistics.mean(loaded):.1f} ms")


if __name__ == "__main__":
    main()
