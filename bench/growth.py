"""Bounded growth: what the node keeps in memory and on disk as the chain runs.

Runs `og-devnet up` as a real subprocess (its RSS is the node's alone) and measures, in one run:

1. **Disk per empty block**: the state directory's bytes (the node stopped cleanly, so SQLite's
   WAL is checkpointed into the database) before and after `anvil_mine` of N empty blocks,
   divided by N; against the bytes an empty block's header holds (its fields as binary), the
   physical limit, and the ratio.
2. **Memory per inference**: RSS idle after start, once warmed up (1,000 inferences run),
   then after 10,000 more inferences (half VANILLA, half TEE, every one mined and settled),
   as a growth in % (target < 10 %) and bytes per inference; then after 10,000 more again,
   when the bounded caches (the SSE event ring, the block-body window) are full, so that
   what remains is what each inference leaves behind for good.

    python bench/growth.py [--blocks 20000] [--inferences 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from og_devnet._core import encode_run_call
from og_devnet.inference.fixedpoint import model_input

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
TEE = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """`og-devnet up` in a subprocess."""

    def __init__(self, state: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        exe = Path(sys.executable).parent / "og-devnet"
        self.proc = subprocess.Popen(
            [str(exe if exe.exists() else shutil.which("og-devnet")), "up", "--port", str(self.port), "--state", str(state), "--no-zkml", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.client = httpx.Client(timeout=300)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.call("eth_blockNumber")
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit("og-devnet did not start") from None
                time.sleep(0.05)

    def call(self, method: str, *params: object) -> object:
        body = self.client.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(timeout=60)


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "models" not in f.parts)


def header_bytes(block: dict) -> int:
    """The information an empty header holds: each field as binary, quantities as 8 bytes."""
    total = 0
    for key, value in block.items():
        if key in ("transactions", "uncles", "withdrawals", "size", "totalDifficulty") or not isinstance(value, str):
            continue
        raw = value.removeprefix("0x")
        total += len(raw) // 2 if len(raw) > 16 else 8
    return total


def disk_per_empty_block(blocks: int) -> tuple[float, int]:
    state = Path(tempfile.mkdtemp(prefix="og-growth-disk-"))
    try:
        node = Node(state, "--no-mining", "--no-fixtures")
        node.stop()
        before = dir_bytes(state)
        node = Node(state, "--no-mining", "--no-fixtures")
        node.call("anvil_mine", hex(1000))  # warm-up: the body window fills
        time.sleep(1)
        rss_before = node.rss_bytes()
        t0 = time.monotonic()
        for done in range(0, blocks, 5000):
            node.call("anvil_mine", hex(min(5000, blocks - done)))
        mine_s = time.monotonic() - t0
        time.sleep(1)
        rss_per_block = (node.rss_bytes() - rss_before) / blocks
        header = header_bytes(node.call("eth_getBlockByNumber", "latest", False))  # type: ignore[arg-type]
        node.stop()
        after = dir_bytes(state)
        print(f"  {blocks} empty blocks mined in {mine_s:.1f} s ({blocks / mine_s:.0f} blocks/s); "
              f"RSS grew {rss_per_block:.0f} bytes per empty block")
        return (after - before) / (blocks + 1000), header
    finally:
        shutil.rmtree(state, ignore_errors=True)


def inference_batch(node: Node, mlp: str, sender: str, start: int, count: int) -> list[dict]:
    rng = np.random.default_rng(start)
    batch = []
    for i in range(start, start + count):
        numbers, _ = model_input({"input": rng.normal(size=(1, 4)).astype(np.float32)})
        data = "0x" + encode_run_call(mlp, TEE if i % 2 else 0, json.dumps(numbers), "[]").hex()
        batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
                      "params": [{"from": sender, "to": HUB, "data": data, "gas": hex(300_000)}]})  # fmt: skip
    return batch


def run_inferences(node: Node, mlp: str, sender: str, start: int, count: int) -> None:
    nonce0 = int(node.call("eth_getTransactionCount", sender, "latest"), 16)  # type: ignore[arg-type]
    for i in range(start, start + count, 200):
        out = node.client.post(node.url, json=inference_batch(node, mlp, sender, i, min(200, start + count - i))).json()
        errors = [r["error"] for r in out if "error" in r]
        if errors:
            raise RuntimeError(errors[0])
        # Keep the pool shallow, as a steady client would.
        while int(node.call("eth_getTransactionCount", sender, "latest"), 16) < nonce0 + (i - start):  # type: ignore[arg-type]
            time.sleep(0.05)
    while int(node.call("eth_getTransactionCount", sender, "latest"), 16) < nonce0 + count:  # type: ignore[arg-type]
        time.sleep(0.05)
    # TEE results settle a block later.
    node.call("evm_mine")
    node.call("evm_mine")


def memory_per_inference(count: int) -> tuple[int, int, int, int]:
    """RSS idle after start, warmed up, after `count` more inferences, and after `count` more
    again (the last step shows whether memory still grows once the bounded caches are full)."""
    state = Path(tempfile.mkdtemp(prefix="og-growth-mem-"))
    try:
        node = Node(state, "--block-time", "0.1")
        mlp = next(m["id"] for m in node.call("og_models") if m["name"] == "mlp")  # type: ignore[union-attr]
        sender = node.call("eth_accounts")[0]  # type: ignore[index]
        time.sleep(1)
        idle = node.rss_bytes()
        run_inferences(node, mlp, sender, 0, 1000)  # warm-up: caches, arenas, latency histories
        time.sleep(1)
        warm = node.rss_bytes()
        t0 = time.monotonic()
        run_inferences(node, mlp, sender, 1000, count)
        elapsed = time.monotonic() - t0
        time.sleep(1)
        after = node.rss_bytes()
        run_inferences(node, mlp, sender, 1000 + count, count)
        time.sleep(1)
        again = node.rss_bytes()
        print(f"  {count} inferences mined in {elapsed:.1f} s ({count / elapsed:.0f}/s)")
        node.stop()
        return idle, warm, after, again
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=20_000)
    ap.add_argument("--inferences", type=int, default=10_000)
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, SQLite state dir")

    print("disk:")
    per_block, header = disk_per_empty_block(args.blocks)
    print(f"  state dir per empty block: {per_block:.0f} bytes; an empty header holds {header} bytes; "
          f"ratio {per_block / header:.2f}")
    print(f"  at --block-time 0.2 that is {per_block * 5 * 86400 / 1e6:.0f} MB a day")

    print("memory:")
    idle, warm, after, again = memory_per_inference(args.inferences)
    n = args.inferences
    print(f"  RSS idle after start {idle / 2**20:.1f} MiB, warmed up (1,000 inferences) {warm / 2**20:.1f} MiB, "
          f"after {n} more {after / 2**20:.1f} MiB, after {n} more again {again / 2**20:.1f} MiB")
    print(f"  growth over {n} inferences from warmed up: {100 * (after - warm) / warm:.1f} % (target < 10 %), "
          f"{(after - warm) / n:.0f} bytes per inference; from idle after start: {100 * (after - idle) / idle:.1f} %")
    print(f"  the next {n}: {100 * (again - after) / after:.1f} %, {(again - after) / n:.0f} bytes per inference "
          f"(bounded caches are full by then: what is left is growth per inference)")

if __name__ == "__main__":
    main()
