"""What the devnet adds to one inference, and what 10,000 inferences cost in memory.

Starts `og-devnet up --automine` (4 healthy nodes, no network delay, the fixture MLP on
onnxruntime) as a subprocess on a free port, and in the same run calls onnxruntime directly
in this process on the same model file with the same input (one intra-op thread, as the nodes
run it). Then:

- latency: N inferences one at a time, end to end: a signed transaction to the hub's `run`
  (eth_sendRawTransaction on one kept-alive connection) until its receipt is served (polled
  every 1 ms), with the output checked against the direct onnxruntime answer; vs
  `session.run` alone. Prints p50/p99 of both and the ratio;
- memory: the devnet process's peak RSS (VmHWM, /proc) once idle after start-up and one
  inference, and after 10,000 inferences (sent in JSON-RPC batches of 100, automine), plus
  the RSS now. Growth per inference shows whether records or jobs are kept forever.

    python bench/inference_overhead.py [--n 300] [--bulk 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
from eth_account import Account

from og_devnet._core import encode_run_call
from og_devnet.inference.fixedpoint import model_input

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
MLP = Path(__file__).resolve().parents[1] / "python" / "og_devnet" / "fixtures" / "mlp.onnx"
X = np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Client:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        self.acct = Account.from_key(KEY)
        self.chain_id = int(self.rpc("eth_chainId", []), 16)
        self.nonce = int(self.rpc("eth_getTransactionCount", [self.acct.address, "pending"]), 16)

    def rpc(self, method: str, params: list) -> object:
        reply = self.http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def signed(self, data: bytes) -> str:
        tx = {"to": HUB, "data": data, "gas": 500_000, "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9,
              "nonce": self.nonce, "chainId": self.chain_id, "value": 0}  # fmt: skip
        self.nonce += 1
        return "0x" + self.acct.sign_transaction(tx).raw_transaction.hex()

    def infer(self, data: bytes) -> tuple[str, float]:
        raw = self.signed(data)
        t0 = time.perf_counter()
        tx_hash = self.rpc("eth_sendRawTransaction", [raw])
        while (receipt := self.rpc("eth_getTransactionReceipt", [tx_hash])) is None:
            time.sleep(0.001)
        elapsed = time.perf_counter() - t0
        assert receipt["status"] == "0x1", receipt  # type: ignore[index]
        return str(tx_hash), elapsed


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, q))


def direct(n: int) -> tuple[list[float], np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(MLP), sess_options=options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = session.run(None, {name: X})[0]
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        session.run(None, {name: X})
        times.append(time.perf_counter() - t0)
    return times, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300, help="inferences timed one at a time")
    ap.add_argument("--bulk", type=int, default=10_000, help="inferences before the second RSS reading")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"onnxruntime {ort.__version__}")  # fmt: skip
    cli = shutil.which("og-devnet") or sys.exit("og-devnet is not on PATH: pip install the package first")
    port = free_port()
    proc = subprocess.Popen([cli, "up", "--port", str(port), "--automine", "--no-zkml"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("og-devnet up did not start")
            time.sleep(0.05)
        client = Client(url)
        models = client.rpc("og_models", [])
        mlp = next(m["id"] for m in models if m["name"] == "mlp")  # type: ignore[union-attr]
        numbers, _ = model_input({"input": X})
        data = encode_run_call(mlp, 0, json.dumps(numbers), "[]")

        # One inference first (loads the model), and its output against onnxruntime's.
        tx_hash, _ = client.infer(data)
        record = client.rpc("og_getInference", [tx_hash])
        direct_times, expected = direct(args.n + 20)
        assert record["status"] == "settled", record  # type: ignore[index]
        tensor = record["output"]["numbers"][0]  # type: ignore[index]
        got = np.array([int(v) / 10 ** int(d) for v, d in tensor["values"]]).reshape(tensor["shape"])
        assert np.allclose(got, expected, atol=1e-5), (got, expected)
        time.sleep(1.0)
        idle_peak, idle_rss = kib(proc.pid, "VmHWM"), kib(proc.pid, "VmRSS")

        for _ in range(20):
            client.infer(data)
        devnet_times = [client.infer(data)[1] for _ in range(args.n)]

        sent = args.n + 21
        t0 = time.perf_counter()
        while sent < args.bulk:
            k = min(100, args.bulk - sent)
            batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [client.signed(data)]}
                     for i in range(k)]  # fmt: skip
            replies = client.http.post("/", json=batch).json()
            bad = [r for r in replies if "error" in r]
            assert not bad, bad[:3]
            sent += k
        sender = client.acct.address
        while int(client.rpc("eth_getTransactionCount", [sender, "latest"]), 16) < client.nonce:  # type: ignore[arg-type]
            time.sleep(0.05)
        bulk_s = time.perf_counter() - t0
        stats = client.rpc("og_pipeStats", [])
        time.sleep(1.0)
        after_peak, after_rss = kib(proc.pid, "VmHWM"), kib(proc.pid, "VmRSS")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    print(f"{args.n} inferences one at a time, automine, 4 healthy nodes, fixture MLP, same input")
    print(f"onnxruntime session.run, direct:     p50 {pct(direct_times, 50):8.3f} ms   p99 {pct(direct_times, 99):8.3f} ms")
    print(f"devnet, raw tx -> receipt (JSON-RPC): p50 {pct(devnet_times, 50):8.3f} ms   p99 {pct(devnet_times, 99):8.3f} ms")
    print(f"overhead per inference: p50 {pct(devnet_times, 50) - pct(direct_times, 50):.3f} ms "
          f"(ratio {pct(devnet_times, 50) / pct(direct_times, 50):.0f}x the model alone)")  # fmt: skip
    print(f"bulk: {sent - args.n - 21} inferences in batches of 100 took {bulk_s:.1f} s "
          f"({(sent - args.n - 21) / bulk_s:.0f}/s); pipe executions {stats['executions']}, jobs {stats.get('jobs', '?')}")  # type: ignore[index]  # fmt: skip
    print(f"devnet RSS: idle peak {idle_peak / 1024:.1f} MiB (now {idle_rss / 1024:.1f}); after {sent} inferences "
          f"peak {after_peak / 1024:.1f} MiB (now {after_rss / 1024:.1f}); "
          f"growth {(after_rss - idle_rss) / max(1, sent - 1):.2f} KiB per inference")  # fmt: skip


if __name__ == "__main__":
    main()
