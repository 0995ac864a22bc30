"""SSE replay against JSON-RPC: do clients replaying the whole event ring starve eth_blockNumber?

Starts one devnet in a subprocess (manual mining, no fixtures) and fills its event ring
(20,000 events of the usual size). Then times eth_blockNumber on a kept-alive connection twice
in the same run: idle (the baseline), and while N clients (another process) each replay the
whole ring with /api/events?since=0. Prints p50/p99 for both, the p99 ratio (replay / idle)
and how long the replay took. (Issue 9 measured p99 4.1 s with 200 clients before the fix.)

    python bench/sse_replay.py [--clients 200] [--calls 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import textwrap
import time

import httpx

NODE = textwrap.dedent("""
    import sys
    from og_devnet import Devnet
    from og_devnet.events import RING_SIZE
    with Devnet(mining="manual", fixtures=False, zkml=False) as n:
        for i in range(RING_SIZE):
            n.events.publish("inference", {"id": i, "tx_hash": "0x" + "ab" * 32, "mode": 2, "mode_name": "TEE",
                             "status": "delivered", "model_id": "f" * 64, "winner_node": 1, "t_result": 1,
                             "t_included": 2, "block_number": 3})
        print(n.port, RING_SIZE, flush=True)
        sys.stdin.read()
""")

READERS = textwrap.dedent("""
    import asyncio, sys
    async def reader(port, events):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /api/events?since=0 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
        await w.drain()
        seen, tail = 0, b""
        while seen < events:
            data = await r.read(1 << 16)
            if not data:
                raise SystemExit("the stream ended early")
            data = tail + data  # a marker split between two reads counts once
            seen += data.count(b"\\nevent: ")
            tail = data[-7:]
        w.close()
    async def main(port, clients, events):
        tasks = [asyncio.create_task(reader(port, events)) for _ in range(clients)]
        print("started", flush=True)
        await asyncio.gather(*tasks)
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
""")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def time_calls(client: httpx.Client, url: str, calls: int, while_running: subprocess.Popen[str] | None = None) -> list[float]:
    ms = []
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    while len(ms) < calls and (while_running is None or while_running.poll() is None):
        t0 = time.perf_counter()
        client.post(url, json=body).raise_for_status()
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--calls", type=int, default=1000)
    args = ap.parse_args()
    node = subprocess.Popen([sys.executable, "-c", NODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert node.stdout is not None
        port, events = map(int, node.stdout.readline().split())
        url = f"http://127.0.0.1:{port}/"
        with httpx.Client(timeout=60) as client:
            time_calls(client, url, 50)  # warm
            idle = time_calls(client, url, args.calls)
            t0 = time.monotonic()
            readers = subprocess.Popen([sys.executable, "-c", READERS, str(port), str(args.clients), str(events)],
                                       stdout=subprocess.PIPE, text=True)  # fmt: skip
            assert readers.stdout is not None and readers.stdout.readline().strip() == "started"
            loaded = time_calls(client, url, args.calls, while_running=readers)
            if readers.wait(timeout=600) != 0:
                raise SystemExit("a reader failed")
            replay_s = time.monotonic() - t0
    finally:
        if node.stdin is not None:
            node.stdin.close()
        node.wait(timeout=60)

    print(f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"{args.clients} SSE clients replaying {events} events each (since=0): done in {replay_s:.1f} s, "
          f"{args.clients * events / replay_s:,.0f} events/s delivered")  # fmt: skip
    print(f"{'eth_blockNumber':<28} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, xs in (("idle", idle), ("during the replay", loaded)):
        print(f"{name:<28} {len(xs):>6} {pct(xs, 0.5):>8.2f} {pct(xs, 0.99):>8.2f} {max(xs):>8.2f}")
    print(f"p99 ratio (replay / idle): {pct(loaded, 0.99) / pct(idle, 0.99):.1f}x")


if __name__ == "__main__":
    main()
