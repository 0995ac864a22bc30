"""Signed transfers per second over JSON-RPC, single requests and batches, in one run.

Starts `og-devnet up` as a subprocess on a free port for each run (a fresh chain, SQLite in a
temp dir, no fixtures, no ZKML) and sends the same pre-signed EIP-1559 value transfers (round-
robin over the 10 dev accounts, sequential nonces; signed at setup with coincurve) with
`eth_sendRawTransaction` on one kept-alive connection (httpx.Client):

- single: one request per transfer;
- batch: JSON-RPC batches of `--batch` requests (default 100);
- batch, one by one: the same batches, with the node's grouping of raw transactions turned
  off in that subprocess (each request its own `submit_raw`, as before issue 13; everything
  else as in this build): the baseline;

each in automine (a block per request, committed before the answer) and in interval mining
(`--block-time`, default 0.2 s). Prints tx/s from the first request to the last answer and
to the last transfer's block (the same under automine: a transfer is answered once its block
is committed; interval mining adds the wait for the last block). At the end of each run every
sender's nonce and balance are checked, so every figure counts only mined transfers.

    python bench/rpc_throughput.py [--count 10000] [--single 2000] [--batch 100] [--block-time 0.2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import orjson

from core_throughput import BALANCE, CONFIG, GAS, MAX_FEE, expected_state, sign_transfers
from og_devnet._core import Chain

#: Runs the CLI; with "ungrouped" first, the node answers each request of a batch alone.
LAUNCH = """
import sys
if sys.argv.pop(1) == "ungrouped":
    from og_devnet.rpc import dispatch
    dispatch._is_raw_send = lambda req: False
from og_devnet.cli import main
sys.argv[0] = "og-devnet"
main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, block_time: float | None, grouped: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.dir = tempfile.TemporaryDirectory()
        args = ["up", "--port", str(self.port), "--state", self.dir.name, "--no-fixtures", "--no-zkml"]
        args += ["--automine"] if block_time is None else ["--block-time", str(block_time)]
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "grouped" if grouped else "ungrouped", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        self.client = httpx.Client(timeout=120, headers={"Content-Type": "application/json"})
        deadline = time.monotonic() + 60
        while True:
            try:
                self.call("eth_blockNumber", [])
                break
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"og-devnet did not start: {self.proc.stderr.read().decode() if self.proc.stderr else ''}") from None
                time.sleep(0.05)

    def call(self, method: str, params: list) -> object:
        r = orjson.loads(self.client.post(self.url, content=orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).content)
        if "error" in r:
            raise RuntimeError(f"{method}: {r['error']}")
        return r["result"]

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)
        self.dir.cleanup()


def send(node: Node, hexes: list[str], batch: int | None) -> None:
    post, url = node.client.post, node.url
    if batch is None:
        for i, h in enumerate(hexes):
            r = orjson.loads(post(url, content=orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [h]})).content)
            if "error" in r:
                raise RuntimeError(r["error"])
        return
    for start in range(0, len(hexes), batch):
        body = [{"jsonrpc": "2.0", "id": start + i, "method": "eth_sendRawTransaction", "params": [h]}
                for i, h in enumerate(hexes[start : start + batch])]  # fmt: skip
        for r in orjson.loads(post(url, content=orjson.dumps(body)).content):
            if "error" in r:
                raise RuntimeError(r["error"])


def run(hexes: list[str], addresses: list[str], batch: int | None, block_time: float | None, grouped: bool = True) -> tuple[float, float]:
    """(tx/s answered, tx/s mined): from the first request to the last answer, and to the
    last transfer's block (the same under automine)."""
    node = Node(block_time, grouped)
    try:
        send(node, hexes[:200], batch)  # warm-up: connection, caches (their nonces come first)
        expected = expected_state(addresses, len(hexes))
        last = addresses[(len(hexes) - 1) % len(addresses)]
        t0 = time.perf_counter()
        send(node, hexes[200:], batch)
        answered = time.perf_counter() - t0
        while int(node.call("eth_getTransactionCount", [last, "latest"]), 16) < expected[last][0]:  # type: ignore[arg-type]
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
        for a, (nonce, most) in expected.items():
            got = int(node.call("eth_getTransactionCount", [a, "latest"]), 16), int(node.call("eth_getBalance", [a, "latest"]), 16)  # type: ignore[arg-type]
            assert got[0] == nonce and most - nonce * GAS * MAX_FEE <= got[1] <= most, (a, got, nonce, most)
        return (len(hexes) - 200) / answered, (len(hexes) - 200) / elapsed
    finally:
        node.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10_000, help="transfers per batch run")
    ap.add_argument("--single", type=int, default=2000, help="transfers per single-request run")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--block-time", type=float, default=0.2, help="seconds between blocks in interval mining")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best is printed")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    accounts = Chain(CONFIG).dev_accounts()
    addresses = [a for a, _ in accounts]
    raws, _ = sign_transfers([k for _, k in accounts], max(args.count, args.single) + 200)
    hexes = ["0x" + r.hex() for r in raws]
    assert BALANCE  # the dev accounts' genesis balance (10,000 OPG), as expected_state assumes

    best: dict[tuple[str, str], tuple[float, float]] = {}
    for _ in range(args.repeat):
        for mining, bt in [("automine", None), (f"interval {args.block_time:g} s", args.block_time)]:
            runs = [("single requests", args.single, None, True),
                    (f"batches of {args.batch}, one by one (before)", args.count, args.batch, False),
                    (f"batches of {args.batch}", args.count, args.batch, True)]  # fmt: skip
            for how, count, batch, grouped in runs:
                rates = run(hexes[: count + 200], addresses, batch, bt, grouped)
                best[(mining, how)] = max(best.get((mining, how), (0.0, 0.0)), rates, key=lambda r: r[1])
    results = [(mining, how, rates) for (mining, how), rates in best.items()]
    print(f"load average {os.getloadavg()[0]:.2f} at the end (other processes may share the CPU)")
    print(f"signed transfers over JSON-RPC (og-devnet up subprocess, one kept-alive httpx connection), all mined, "
          f"best of {args.repeat}:")  # fmt: skip
    print(f"  {'':<16} {'':<38} {'answered':>9} {'mined':>9}  (tx/s)")
    for mining, how, (answered, mined) in results:
        print(f"  {mining:<16} {how:<38} {answered:9.0f} {mined:9.0f}")
    for mining in dict.fromkeys(m for m, _, _ in results):
        rates = {how: mined for m, how, (_, mined) in results if m == mining}
        grouped, before = rates[f"batches of {args.batch}"], rates[f"batches of {args.batch}, one by one (before)"]
        print(f"  {mining}: batches / one by one = {grouped / before:.2f}; batches {grouped:.0f} tx/s "
              f"(target >= 5000: {'MET' if grouped >= 5000 else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
