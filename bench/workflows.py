"""Scheduled workflow runs: what one costs, and how many 1-second tasks the chain keeps on time.

In-process devnets (interval mining, --block-time 0.5 s, 4 healthy PIPE nodes running
onnxruntime, no ZKML), the fixture model "price-range" (price_data [1,10,4] float32 ->
volatility [1,1]) and the opengradient SDK's PriceHistoryInference workflow contract, whose
run() asks OGHistorical (0x..F5) for 10 ETH/USD candles and runs the model on them.

Blocks are sealed every block time at a fixed phase after each wall-clock second (set with
evm_setIntervalMining at the chosen instant, --phase-ms, default half a block): runs fall due
on whole seconds, so a run that makes the first block after its due time is `phase` ms late,
one that misses it `phase + block time` ms late. The chain sends a period's runs (estimate,
simulate, dispatch to PIPE) on the miner's thread before it seals the next block, so a block due
while runs are still being sent waits for them: past the phase, lateness is the sending time.

(1) Cost of a scheduled run. `og.Alpha.new_workflow` (the unmodified SDK) deploys the contract
    and registers it with the scheduler at --frequency; --runs scheduled runs are collected
    from og_workflows. Per run: gasUsed of the chain's run() transaction (from 0xff..fe),
    due -> included (the block's timestampMs - due * 1000) and due -> settled (t_settled of
    the run's og_getInference record), split into due -> sent (t_request, the PIPE job's
    dispatch), sent -> decided (t_result) and decided -> included (t_included).
    Baseline in the same run, same contract: the task is cancelled (cancelTask) and a user
    sends the same run() (EIP-1559, signed in advance) at the same instants the scheduler
    would, whole seconds; latency is eth_sendRawTransaction -> receipt (polled every 1 ms on
    one kept-alive connection), and its gasUsed. One more run through `alpha.run_workflow`
    checks the SDK's own path, and eth_estimateGas of run() from 0xff..fe is timed (for
    comparison: the chain sizes a scheduled run with one execution plus a tenth, checked once,
    not with that search). Prints p50/p99 and the ratios
    scheduled/user.
(2) Capacity. For each N (--tasks, stopping after the first N not kept on time): a fresh
    devnet; N PriceHistoryInference contracts deployed and registered at frequency 1 s (raw
    transactions from the dev accounts, round robin); after --warmup s the window opens on a
    whole second and lasts --window s. Over the periods due in the window: expected runs
    (N x window), runs made, skipped periods (expected - made), failed runs, lateness p50/p99/max
    (timestampMs - due * 1000), and from the runs' inference records how late the last run of a
    period was sent and decided (p99 over periods). "On time" = p99 lateness <= block time and
    no skipped period. Baseline in the same run: raw onnxruntime on the same model (one
    session, batch 1, default threads), inferences per second: the bound on runs per second
    no scheduler can beat on this machine. Prints the ratio (largest N on time per second) /
    (raw inferences per second), and the chain's own bounds: runs per block by the block gas
    limit, runs per block time by the measured sending cost.

    python bench/workflows.py [--runs 24] [--tasks 1,2,4,8,16,32,48,64,80,96,128,192,256] [--window 12]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from og_devnet import Devnet

#: The usual anvil/hardhat dev keys (accounts 0..9 of the default mnemonic, all funded).
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
]
SCHEDULER = "0x7179724De4e7FF9271FA40C0337c7f90C0508eF6"
SYSTEM_SENDER = "0xfffffffffffffffffffffffffffffffffffffffe"
RUN = keccak(text="run()")[:4]
REGISTER = keccak(text="registerTask(address,uint256,uint256)")[:4]
CANCEL = keccak(text="cancelTask(uint256)")[:4]
QUERY_TYPE = "(string,string,uint32,uint32,uint8,uint8[])"
FIXTURE = Path(__file__).resolve().parent.parent / "python" / "og_devnet" / "fixtures" / "price_range.onnx"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=float), q)) if xs else float("nan")


def machine() -> str:
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem = float("nan")
    gpu = "GPU" if shutil.which("nvidia-smi") else "no GPU"
    return (f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, {gpu}; "
            f"Python {platform.python_version()}")  # fmt: skip


def sdk_contract() -> tuple[str, list[dict[str, Any]]]:
    import opengradient

    root = Path(opengradient.__file__).parent
    bytecode = (root / "bin" / "PriceHistoryInference.bin").read_text().strip()
    return bytecode.removeprefix("0x"), json.loads((root / "abi" / "PriceHistoryInference.abi").read_text())


def sdk_query() -> Any:
    import opengradient as og

    return og.HistoricalInputQuery(base="ETH", quote="USD", total_candles=10, candle_duration_in_mins=30,
                                   order=og.CandleOrder.ASCENDING,
                                   candle_types=[og.CandleType.OPEN, og.CandleType.HIGH, og.CandleType.LOW, og.CandleType.CLOSE])  # fmt: skip


class Rpc:
    """JSON-RPC on one kept-alive connection, and raw transactions from the dev accounts with
    nonces counted here."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        self.chain_id = int(self.call("eth_chainId"), 16)
        self.accounts = [Account.from_key(k) for k in DEV_KEYS]
        self.nonces = [int(self.call("eth_getTransactionCount", [a.address, "pending"]), 16) for a in self.accounts]

    def call(self, method: str, params: list | None = None) -> Any:
        reply = self.http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def sign(self, account: int, to: str | None, data: bytes, gas: int) -> str:
        base_fee = int(self.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
        tx = {"data": data, "gas": gas, "maxFeePerGas": 4 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9,
              "nonce": self.nonces[account], "chainId": self.chain_id, "value": 0}  # fmt: skip
        if to is not None:
            tx["to"] = to
        self.nonces[account] += 1
        return "0x" + bytes(self.accounts[account].sign_transaction(tx).raw_transaction).hex()

    def send(self, raw: str) -> str:
        return self.call("eth_sendRawTransaction", [raw])

    def receipt(self, tx_hash: str, timeout: float = 60, poll: float = 0.01) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (r := self.call("eth_getTransactionReceipt", [tx_hash])) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no receipt for {tx_hash} after {timeout} s")
            time.sleep(poll)
        return r

    def receipts(self, hashes: list[str], timeout: float = 120) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        out = []
        for h in hashes:
            out.append(self.receipt(h, max(1.0, deadline - time.monotonic()), poll=0.05))
        bad = [r["transactionHash"] for r in out if r["status"] != "0x1"]
        if bad:
            raise RuntimeError(f"{len(bad)} transactions reverted, e.g. {bad[0]}")
        return out

    def workflows(self, recent: int) -> list[dict[str, Any]]:
        return self.call("og_workflows", [recent])

    def block_phase(self, block_ms: int, blocks: int = 4, timeout: float = 10) -> int:
        """The phase (ms after each whole second, modulo the block time) of the next blocks."""
        start = int(self.call("eth_blockNumber"), 16)
        deadline = time.monotonic() + timeout
        while int(self.call("eth_blockNumber"), 16) < start + blocks:
            if time.monotonic() > deadline:
                raise TimeoutError("no blocks are being sealed")
            time.sleep(0.05)
        stamps = []
        for n in range(start + 1, start + blocks + 1):
            blk = self.call("eth_getBlockByNumber", [hex(n), False])
            stamps.append(self.block_ms(blk))
        return int(np.median([s % block_ms for s in stamps]))

    def block_ms(self, blk: dict[str, Any]) -> int:
        if "timestampMs" in blk:
            return int(blk["timestampMs"], 16) if isinstance(blk["timestampMs"], str) else int(blk["timestampMs"])
        raise KeyError("timestampMs")


def set_phase(rpc: Rpc, block_time: float, phase_ms: int) -> int:
    """Restarts interval mining at the instant that puts every block `phase_ms` after a
    multiple of the block time (so after each whole second, too, when the block time divides
    one second); returns the phase measured from the next blocks' wall-clock timestamps."""
    block_ms = round(block_time * 1000)
    for _ in range(5):
        t = now_ms()
        wait = (phase_ms - t) % block_ms
        if wait < 20:
            wait += block_ms
        time.sleep((wait - 2) / 1000)
        while now_ms() % block_ms != phase_ms % block_ms:
            pass
        rpc.call("evm_setIntervalMining", [block_time])
        measured = rpc.block_phase(block_ms)
        if abs(measured - phase_ms) <= 15:
            return measured
        log(f"block phase came out {measured} ms (wanted {phase_ms}); again")
    return measured


def price_range_id(node: Devnet) -> str:
    return next(m["id"] for m in node.catalog.list() if m["name"] == "price-range")


# ---- (1) cost of a scheduled run ----


def run_records(rpc: Rpc, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per run: gas, due -> sent/decided/included/settled (ms), from its receipt and record."""
    out = []
    for r in runs:
        due_ms = r["due"] * 1000
        receipt = rpc.call("eth_getTransactionReceipt", [r["txHash"]])
        rec = rpc.call("og_getInference", [r["txHash"]])
        call = rec["calls"][0] if rec and rec.get("calls") else rec
        out.append({
            "gas": int(receipt["gasUsed"], 16), "from": receipt["from"], "ok": r["ok"],
            "included": r["timestampMs"] - due_ms,
            "sent": call["t_request"] - due_ms, "decided": call["t_result"] - due_ms,
            "t_included": call["t_included"] - due_ms,
            "settled": (rec.get("t_settled") or call.get("t_settled") or 0) - due_ms,
            "status": call.get("status"), "mode": call.get("mode_name"), "calls": len(rec.get("calls") or [rec]),
            "block": r["block"], "settlement_block": call.get("settlement_block"),
        })  # fmt: skip
    return out


def bench_cost(args: argparse.Namespace) -> None:
    import opengradient as og

    log(f"(1) one SDK workflow at frequency {args.frequency} s, {args.runs} scheduled runs ...")
    with Devnet(zkml=False, block_time=args.block_time) as node:
        rpc = Rpc(node.rpc_url)
        model = price_range_id(node)
        alpha = og.Alpha(private_key=DEV_KEYS[0], rpc_url=node.rpc_url)
        phase = set_phase(rpc, args.block_time, args.phase_ms)
        t_deploy = time.perf_counter()
        addr = alpha.new_workflow(model_cid=model, input_query=sdk_query(), input_tensor_name="price_data",
                                  scheduler_params=og.SchedulerParams(frequency=args.frequency, duration_hours=1))  # fmt: skip
        t_deploy = time.perf_counter() - t_deploy
        rpc.nonces[0] = int(rpc.call("eth_getTransactionCount", [rpc.accounts[0].address, "pending"]), 16)
        task = next(t for t in rpc.workflows(0) if t["contract"].lower() == addr.lower())
        log(f"  deployed and registered {addr} (task {task['id']}) in {t_deploy:.1f} s; block phase {phase} ms")
        deadline = time.monotonic() + args.frequency * (args.runs + 2) * 3 + 30
        while (task := next(t for t in rpc.workflows(0) if t["id"] == task["id"]))["runs"] < args.runs + 1:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {task['runs']} scheduled runs after waiting")
            time.sleep(0.5)
        # Cancel first, so that the user's runs below share no block with scheduled ones.
        rpc.receipt(rpc.send(rpc.sign(0, SCHEDULER, CANCEL + encode(["uint256"], [task["id"]]), 100_000)))
        task = next(t for t in rpc.workflows(1000) if t["id"] == task["id"])
        assert task["cancelled"], task
        runs = task["recentRuns"][1:]  # the first run after registration warms up
        sched = run_records(rpc, runs)
        assert all(s["from"].lower() == SYSTEM_SENDER for s in sched), "a run not sent by the chain"
        expected = (runs[-1]["due"] - runs[0]["due"]) // args.frequency + 1
        skipped = expected - len(runs)

        # Baseline: the same run() from a user at whole seconds, as the scheduler sends it.
        log(f"  {args.runs} user run() transactions of the same contract at whole seconds ...")
        gas_limit = int(rpc.call("eth_estimateGas", [{"from": rpc.accounts[0].address, "to": addr, "data": "0x" + RUN.hex()}]), 16)
        user_lat, user_gas, user_hashes = [], [], []
        for _ in range(args.runs + 1):
            raw = rpc.sign(0, addr, RUN, gas_limit + gas_limit // 4)
            target = (now_ms() // 1000 + 1) * 1000
            time.sleep(max(0.0, (target - now_ms() - 2) / 1000))
            while now_ms() < target:
                pass
            t0 = time.perf_counter()
            h = rpc.send(raw)
            receipt = rpc.receipt(h, poll=0.001)
            elapsed = (time.perf_counter() - t0) * 1000
            assert receipt["status"] == "0x1", receipt
            user_lat.append(elapsed)
            user_gas.append(int(receipt["gasUsed"], 16))
            user_hashes.append(h)
        user_lat, user_gas, user_hashes = user_lat[1:], user_gas[1:], user_hashes[1:]
        user_recs = [rpc.call("og_getInference", [h]) for h in user_hashes]
        user_pipe = [rec["t_result"] - rec["t_request"] for rec in user_recs]
        # What the chain does before sending each scheduled run: estimate its gas.
        est_req = {"from": SYSTEM_SENDER, "to": addr, "data": "0x" + RUN.hex()}
        est_ms, est_gas = [], 0
        for _ in range(args.runs + 1):
            t = time.perf_counter()
            est_gas = int(rpc.call("eth_estimateGas", [est_req]), 16)
            est_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        for _ in range(args.runs):
            rpc.call("eth_chainId")
        rpc_ms = (time.perf_counter() - t) * 1000 / args.runs
        t_sdk = time.perf_counter()
        out = alpha.run_workflow(addr)
        t_sdk = (time.perf_counter() - t_sdk) * 1000
        sdk_ok = "volatility" in out.numbers

    blk = args.block_time * 1000
    row = lambda xs: f"p50 {pct(xs, 50):7.1f}   p99 {pct(xs, 99):7.1f}   max {max(xs):7.1f}"
    print(f"(1) cost of a scheduled run: one workflow deployed with og.Alpha.new_workflow (SDK {og_version()}), "
          f"frequency {args.frequency} s, price-range on ETH/USD 10x30 min candles; block time {blk:.0f} ms, "
          f"blocks {phase} ms after each whole second")  # fmt: skip
    print(f"  {len(sched)} scheduled runs (the chain's run() from 0xff..fe), {sum(not s['ok'] for s in sched)} failed, "
          f"{skipped} periods skipped; mode {sched[0]['mode']}, {sched[0]['calls']} inference call per run")  # fmt: skip
    gas = [s["gas"] for s in sched]
    print(f"  gas used per run:                 min {min(gas)}  p50 {pct(gas, 50):.0f}  max {max(gas)}")
    print(f"  due -> sent (PIPE job dispatched) ms: {row([s['sent'] for s in sched])}")
    print(f"  due -> decided (result) ms:          {row([s['decided'] for s in sched])}")
    print(f"  due -> included (block) ms:          {row([s['included'] for s in sched])}")
    print(f"  due -> settled ms:                   {row([s['settled'] for s in sched])}")
    same = sum(s["settled"] == s["included"] and s["settlement_block"] == s["block"] for s in sched)
    print(f"    settlement: record status {sched[0]['status']!r}, t_settled == t_included and settlement_block == block "
          f"for {same}/{len(sched)} runs (VANILLA settles in its inclusion block: no proof to wait for)")  # fmt: skip
    print(f"  baseline, the same run() sent by a user at whole seconds ({len(user_lat)} runs, EIP-1559, 1 ms receipt polling):")
    print(f"  gas used per run:                 min {min(user_gas)}  p50 {pct(user_gas, 50):.0f}  max {max(user_gas)}")
    print(f"  send -> receipt ms:                  {row(user_lat)}   (of which PIPE request -> result p50 {pct(user_pipe, 50):.1f})")
    print(f"  alpha.run_workflow (SDK, 100 ms receipt polling, + getInferenceResult): {t_sdk:.0f} ms, result read back: {sdk_ok}")
    print(f"  eth_estimateGas of run() from 0xff..fe (its tightest-limit search; the chain sizes a scheduled run with one "
          f"execution plus a tenth, checked once): "
          f"p50 {pct(est_ms[1:], 50):.2f} ms over HTTP (a bare eth_chainId: {rpc_ms:.2f} ms), estimate {est_gas} gas")  # fmt: skip
    print(f"  ratio scheduled/user: gas {pct(gas, 50) / pct(user_gas, 50):.3f}x   "
          f"latency (due -> included vs send -> receipt) p50 {pct([s['included'] for s in sched], 50) / pct(user_lat, 50):.2f}x   "
          f"p99 {pct([s['included'] for s in sched], 99) / pct(user_lat, 99):.2f}x")  # fmt: skip


def og_version() -> str:
    from importlib.metadata import version

    return version("opengradient")


# ---- (2) capacity ----


def raw_onnxruntime(seconds: float) -> tuple[float, float]:
    """Inferences per second and p50 latency (ms) of price-range on raw onnxruntime."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(FIXTURE), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = (3000 + 30 * np.random.default_rng(0).standard_normal((1, 10, 4))).astype(np.float32)
    for _ in range(200):
        sess.run(None, {name: x})
    lat, n, t0 = [], 0, time.perf_counter()
    while (t := time.perf_counter()) - t0 < seconds:
        sess.run(None, {name: x})
        lat.append(time.perf_counter() - t)
        n += 1
    return n / (time.perf_counter() - t0), pct(lat, 50) * 1000


def deploy_many(rpc: Rpc, bytecode: str, model: str, n: int) -> list[str]:
    """N PriceHistoryInference contracts, then registerTask(contract, end, 1) for each."""
    args = encode(["string", "string", QUERY_TYPE], [model, "price_data", sdk_query().to_abi_format()])
    create = bytes.fromhex(bytecode) + args
    gas = int(rpc.call("eth_estimateGas", [{"from": rpc.accounts[0].address, "data": "0x" + create.hex()}]), 16)
    raws = [rpc.sign(i % len(rpc.accounts), None, create, gas + gas // 5) for i in range(n)]
    hashes = [rpc.send(r) for r in raws]
    receipts = rpc.receipts(hashes, timeout=60 + n)
    contracts = [to_checksum_address(r["contractAddress"]) for r in receipts]
    end = int(time.time()) + 3600
    raws = [rpc.sign(i % len(rpc.accounts), SCHEDULER, REGISTER + encode(["address", "uint256", "uint256"], [c, end, 1]), 300_000)
            for i, c in enumerate(contracts)]  # fmt: skip
    rpc.receipts([rpc.send(r) for r in raws], timeout=60 + n)
    return contracts


def capacity_round(args: argparse.Namespace, bytecode: str, n: int) -> dict[str, Any]:
    with Devnet(zkml=False, block_time=args.block_time) as node:
        rpc = Rpc(node.rpc_url)
        model = price_range_id(node)
        # The phase first: once the chain falls a whole block behind, its slots move.
        phase = set_phase(rpc, args.block_time, args.phase_ms)
        t0 = time.perf_counter()
        contracts = deploy_many(rpc, bytecode, model, n)
        setup = time.perf_counter() - t0
        start = math.ceil(time.time() + args.warmup)
        end = start + args.window
        log(f"  N={n}: {len(contracts)} registered in {setup:.1f} s, phase {phase} ms; window {args.window} s ...")
        # Wait out the window, then until every task is past its last period in it (the run
        # for end - 1 recorded, or that period skipped), or a timeout.
        time.sleep(max(0.0, end - time.time() + 0.2))
        deadline = time.monotonic() + 30 + 0.05 * n
        while True:
            tasks = rpc.workflows(0)
            if all(t["nextRun"] >= end for t in tasks) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        tasks = rpc.workflows(min(1000, int(args.window + args.warmup + 60)))
        assert len(tasks) == n, (len(tasks), n)
        runs = [r for t in tasks for r in t["recentRuns"] if start <= r["due"] < end]
        # A block is packed by its transactions' gas limits (as geth does), not by gas used.
        # (the last run: a task's first run stores more and gets a larger limit).
        gas_run = int(rpc.call("eth_getTransactionByHash", [runs[-1]["txHash"]])["gas"], 16) if runs else 0
        gas_limit = int(rpc.call("eth_getBlockByNumber", ["latest", False])["gasLimit"], 16)
        late = [r["timestampMs"] - r["due"] * 1000 for r in runs]
        # Per period: when its last run was sent to PIPE and decided (the chain's share and
        # PIPE's share of the phase), from the runs' inference records.
        by_due: dict[int, list[tuple[int, int]]] = {}
        for r in runs:
            rec = rpc.call("og_getInference", [r["txHash"]])
            call = rec["calls"][0] if rec and rec.get("calls") else rec
            by_due.setdefault(r["due"], []).append((call["t_request"] - r["due"] * 1000, call["t_result"] - r["due"] * 1000))
    sent_last = [max(s for s, _ in v) for v in by_due.values()]
    # The chain's cost of sending one run: the spread of a period's dispatches over its runs.
    per_run = [(max(s for s, _ in v) - min(s for s, _ in v)) / (len(v) - 1) for v in by_due.values() if len(v) > 1]
    decided_last = [max(d for _, d in v) for v in by_due.values()]
    expected = n * args.window
    res = {
        "n": n, "phase": phase, "expected": expected, "runs": len(runs), "skipped": expected - len(runs),
        "failed": sum(not r["ok"] for r in runs), "p50": pct(late, 50), "p99": pct(late, 99),
        "max": max(late) if late else float("nan"), "sent": pct(sent_last, 99), "decided": pct(decided_last, 99),
        "setup": setup, "per_run": pct(per_run, 50), "gas_run": gas_run, "gas_limit": gas_limit,
    }  # fmt: skip
    res["on_time"] = bool(runs) and res["p99"] <= args.block_time * 1000 and res["skipped"] <= 0
    return res


def bench_capacity(args: argparse.Namespace, raw_rate: float, raw_ms: float) -> None:
    bytecode, _ = sdk_contract()
    print(f"(2) capacity: N PriceHistoryInference tasks at frequency 1 s, block time {args.block_time * 1000:.0f} ms "
          f"(blocks {args.phase_ms} ms after each whole second), fresh devnet per N, window {args.window} s "
          f"after {args.warmup} s warm-up")  # fmt: skip
    print("  lateness = block timestampMs - due*1000; sent/decided = when the last run of a period was dispatched to "
          "PIPE / had its result, ms after due (p99 over periods); send/run = ms between a period's dispatches (p50)")  # fmt: skip
    print(f"  {'N':>5} {'runs':>6} {'expected':>8} {'skipped':>7} {'failed':>6} {'late p50':>8} {'p99':>7} {'max':>7} "
          f"{'sent':>7} {'decided':>7} {'send/run':>8}  on time")  # fmt: skip
    best, r = 0, None
    for n in args.tasks:
        log(f"(2) N={n} ...")
        r = capacity_round(args, bytecode, n)
        print(f"  {n:5d} {r['runs']:6d} {r['expected']:8d} {r['skipped']:7d} {r['failed']:6d} {r['p50']:8.0f} {r['p99']:7.0f} "
              f"{r['max']:7.0f} {r['sent']:7.0f} {r['decided']:7.0f} {'-' if math.isnan(r['per_run']) else format(r['per_run'], '.1f'):>8}  {'yes' if r['on_time'] else 'NO'}"
              + (f"   (phase {r['phase']} ms)" if abs(r["phase"] - args.phase_ms) > 15 else ""), flush=True)  # fmt: skip
        if r["on_time"]:
            best = n
        else:
            break
    print(f"  largest N kept on time (p99 lateness <= {args.block_time * 1000:.0f} ms, no skipped period): {best} tasks "
          f"= {best} runs/s" + ("" if best != args.tasks[-1] else " (the largest N tried)"))  # fmt: skip
    if r and r["gas_run"]:
        per_run = [x for x in [r["per_run"]] if not math.isnan(x)]
        print(f"  bounds on this chain: a block of {r['gas_limit']:,} gas holds {r['gas_limit'] // r['gas_run']} runs with a gas "
              f"limit of {r['gas_run']:,} (all N runs of a period are due at once, so more than that cannot all make the first "
              f"block after due)" + (f"; the chain sends runs one after another, {per_run[0]:.1f} ms each, before it seals "
              f"that block (so about {args.block_time * 1000 / per_run[0]:.0f} in one block time)" if per_run else ""))  # fmt: skip
    print(f"  baseline, raw onnxruntime (price-range, one session, batch 1, default threads): {raw_rate:,.0f} inferences/s "
          f"(p50 {raw_ms * 1000:.0f} us each)")  # fmt: skip
    print(f"  ratio on-time runs per second / raw inferences per second: {best / raw_rate:.5f} (1/{raw_rate / max(best, 1):,.0f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=24, help="scheduled (and user) runs measured in (1)")
    ap.add_argument("--frequency", type=int, default=1, help="the workflow's frequency in (1), s")
    ap.add_argument("--tasks", default="1,2,4,8,16,32,48,64,80,96,128,192,256", help="the N series of (2), increasing")
    ap.add_argument("--window", type=int, default=12, help="seconds of runs measured per N")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds after registration before the window")
    ap.add_argument("--block-time", type=float, default=0.5)
    ap.add_argument("--phase-ms", type=int, default=250, help="blocks this many ms after each whole second")
    ap.add_argument("--raw-seconds", type=float, default=3.0, help="seconds of raw onnxruntime inference")
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--skip-capacity", action="store_true")
    args = ap.parse_args()
    args.tasks = [int(x) for x in args.tasks.split(",") if x.strip()]
    if 1000 % round(args.block_time * 1000) or not 0 <= args.phase_ms < args.block_time * 1000:
        ap.error("the block time must divide one second and the phase lie within a block time")
    print(f"machine: {machine()}")
    t0 = time.perf_counter()
    log("raw onnxruntime baseline ...")
    raw_rate, raw_ms = raw_onnxruntime(args.raw_seconds)
    if not args.skip_cost:
        bench_cost(args)
    if not args.skip_capacity:
        bench_capacity(args, raw_rate, raw_ms)
    log(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
