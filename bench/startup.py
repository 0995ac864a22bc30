"""How fast og-devnet answers its first JSON-RPC call, and how fast a client command runs,
against baselines measured in the same run.

1. `og-devnet up` (default settings: fixture models, 4 nodes, 4 LLM gateways, the ZKML circuit
   from the user cache), spawned on a free port: time from spawning it to the first answer of
   eth_blockNumber. Baseline: `python -m http.server`, spawned the same way, to its first
   answer (the floor of any Python process that serves HTTP).
2. In-process, in a fresh interpreter (timed inside it: interpreter start not included):
   (a) `from og_devnet import Devnet` and `Devnet()`: the imports and the settings;
   (b) then `net.start()` and the first eth_blockNumber answer, imports done: what the issue
   compares with eth-tester's `Web3(EthereumTesterProvider())` and its first eth_blockNumber
   (0.12 s there), which excludes eth-tester's import too. eth-tester is measured the same
   way, in a process of its own, after ours has stopped (needs
   `pip install 'eth-tester[py-evm]'`); its import time is shown beside it. Also shown: when
   the Devnet has finished starting in the background (models, nodes, gateways, store, app).
3. `og-devnet infer mlp --input ...` against a running devnet (automine, so no block interval
   is measured): wall time of the whole command. Baseline: the interpreter doing nothing
   (`python -c pass`).

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

RPC = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}

IN_PROCESS_DEVNET = textwrap.dedent("""
    import time
    t0 = time.perf_counter()
    import http.client, json
    from og_devnet import Devnet
    net = Devnet(mining="manual")
    t1 = time.perf_counter()
    net.start()
    c = http.client.HTTPConnection("127.0.0.1", net.port)
    c.request("POST", "/", json.dumps(%s), {"content-type": "application/json"})
    assert json.loads(c.getresponse().read())["result"] == "0x0"
    t2 = time.perf_counter()
    net.wait_ready()
    t3 = time.perf_counter()
    net.stop()
    print(json.dumps({"construct": t1 - t0, "first_answer": t2 - t1, "ready": t3 - t1}))
""") % json.dumps(RPC)

IN_PROCESS_ETH_TESTER = textwrap.dedent("""
    import time
    t0 = time.perf_counter()
    import json
    from web3 import EthereumTesterProvider, Web3
    t1 = time.perf_counter()
    w3 = Web3(EthereumTesterProvider())
    assert w3.eth.block_number == 0
    t2 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "first_answer": t2 - t1}))
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def og_devnet_command() -> str:
    """The console script beside this interpreter (a pyenv shim in front of it would add its
    own start-up to every measurement), else the one on PATH."""
    beside = Path(sys.executable).parent / "og-devnet"
    return str(beside) if beside.exists() else shutil.which("og-devnet") or sys.exit("og-devnet is not installed: pip install -e .")


def time_to_answer(argv: list[str], request: dict | None, port: int) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(timeout=1) as client:
            while True:
                try:
                    r = (client.post(f"http://127.0.0.1:{port}/", json=request) if request
                         else client.get(f"http://127.0.0.1:{port}/"))  # fmt: skip
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
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def in_process(code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"in-process run failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def wall(argv: list[str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    took = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{out.stderr[-2000:]}")
    return took


def ms(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs) * 1000:7.0f} ms   min {min(xs) * 1000:7.0f} ms   max {max(xs) * 1000:7.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {load:.2f} at the start")  # fmt: skip
    if sys.flags.dont_write_bytecode:
        # An editable install then compiles og_devnet's modules at every start (~80 ms of `up`).
        print("PYTHONDONTWRITEBYTECODE is set: og_devnet's modules are compiled at each start, not read from __pycache__")
    cli = og_devnet_command()
    try:
        import eth.vm  # noqa: F401  (py-evm, the backend EthereumTesterProvider uses)
        import eth_tester  # noqa: F401

        have_eth_tester = True
    except ImportError:
        have_eth_tester = False
        print("eth-tester[py-evm] is not installed: its baseline is skipped (pip install 'eth-tester[py-evm]')")

    up, floor, construct, devnet, ready, tester, tester_import = [], [], [], [], [], [], []
    for _ in range(args.runs):
        port = free_port()
        up.append(time_to_answer([cli, "up", "--port", str(port)], RPC, port))
        port = free_port()
        floor.append(time_to_answer([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], None, port))
        d = in_process(IN_PROCESS_DEVNET)  # returns once that process has stopped its devnet
        construct.append(d["construct"])
        devnet.append(d["first_answer"])
        ready.append(d["ready"])
        if have_eth_tester:
            t = in_process(IN_PROCESS_ETH_TESTER)
            tester.append(t["first_answer"])
            tester_import.append(t["import"])

    port = free_port()
    server = subprocess.Popen([cli, "up", "--port", str(port), "--automine", "--llm-gateways", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    infer, bare = [], []
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while True:  # og_models answers once the models are loaded
            try:
                if httpx.post(url, json={**RPC, "method": "og_models"}, timeout=60).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the devnet for the infer runs did not start")
            time.sleep(0.05)
        argv = [cli, "infer", "mlp", "--input", '{"input": [[1, 2, 3, 4]]}', "--rpc-url", url]
        wall(argv)  # the first run warms the file system cache, as a user's second command would
        for _ in range(args.runs):
            infer.append(wall(argv))
            bare.append(wall([sys.executable, "-c", "pass"]))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    print(f"{args.runs} runs each")
    print("spawn to first answer")
    print(f"  og-devnet up (eth_blockNumber):            {ms(up)}")
    print(f"  python -m http.server (GET /):             {ms(floor)}")
    print(f"  ratio og-devnet up / http.server (p50):    {statistics.median(up) / statistics.median(floor):.2f}x")
    print("in-process, a fresh interpreter")
    print(f"  (a) import og_devnet + Devnet():           {ms(construct)}")
    print(f"  (b) start() + first eth_blockNumber:       {ms(devnet)}")
    print(f"      ... its start complete (background):   {ms(ready)}")
    if tester:
        print("  eth-tester Web3(EthereumTesterProvider()) + first eth_blockNumber, imports done:")
        print(f"                                             {ms(tester)}")
        print(f"      (its imports, not counted:             {ms(tester_import)})")
        print(f"  ratio (b) / EthereumTesterProvider() (p50): {statistics.median(devnet) / statistics.median(tester):.2f}x")
    print("client command, wall time of the whole process (automining devnet)")
    print(f"  og-devnet infer mlp --input ...:           {ms(infer)}")
    print(f"  python -c pass:                            {ms(bare)}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} at the end")


if __name__ == "__main__":
    main()
