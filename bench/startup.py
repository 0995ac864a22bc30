"""How fast `og-devnet up` answers its first JSON-RPC call, against the floor of any Python
process that serves HTTP.

Starts `og-devnet up` (default settings: fixture models, 4 nodes, the ZKML circuit from the
user cache) N times on a free port and measures the time from spawning it to the first answer
of eth_blockNumber. The baseline, in the same run: `python -m http.server` started the same way,
timed to its first answer. Prints p50/max of both and the ratio of the p50s.

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_answer(argv: list[str], request: dict | None, port: int) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                r = (httpx.post(f"http://127.0.0.1:{port}/", json=request, timeout=1) if request
                     else httpx.get(f"http://127.0.0.1:{port}/", timeout=1))  # fmt: skip
                if r.status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"{argv[0]} exited with {proc.returncode}")
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    cli = shutil.which("og-devnet") or sys.exit("og-devnet is not on PATH: pip install the package first")
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    devnet, floor = [], []
    for _ in range(args.runs):
        port = free_port()
        devnet.append(time_to_answer([cli, "up", "--port", str(port)], rpc, port))
        port = free_port()
        floor.append(time_to_answer([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], None, port))
    ms = lambda xs: f"p50 {statistics.median(xs) * 1000:7.0f} ms   max {max(xs) * 1000:7.0f} ms"  # noqa: E731
    print(f"{args.runs} starts each, spawn to first answer")
    print(f"og-devnet up (eth_blockNumber):   {ms(devnet)}")
    print(f"python -m http.server (GET /):    {ms(floor)}")
    print(f"ratio og-devnet / bare Python HTTP server (p50): {statistics.median(devnet) / statistics.median(floor):.1f}x")


if __name__ == "__main__":
    main()
