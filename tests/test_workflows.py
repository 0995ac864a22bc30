"""Workflows: the unmodified opengradient SDK (1.1.4) deploys, runs and reads a workflow; the
chain's scheduler runs it by itself; every run's output is what onnxruntime gives on the
candles OGHistorical served at the run's block; a CSV feed is what OGHistorical serves; bad
input reverts with a reason and schedules nothing; scheduled runs outlive `kill -9`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from conftest import DEV_KEYS, DEV0, free_port, og_devnet_command, start_cli, stop, wait_until
from og_devnet import Devnet
from og_devnet.inference.catalog import FIXTURES

SCHEDULER = "0x7179724De4e7FF9271FA40C0337c7f90C0508eF6"
SYSTEM_ACCOUNT = "0xffffffffffffffffffffffffffffffffffffffFE"
HISTORICAL = "0x00000000000000000000000000000000000000F5"
_QUERY = {"name": "query", "type": "tuple", "components": [
    {"name": "base", "type": "string"}, {"name": "quote", "type": "string"},
    {"name": "total_candles", "type": "uint32"}, {"name": "candle_duration_in_mins", "type": "uint32"},
    {"name": "order", "type": "uint8"}, {"name": "candle_types", "type": "uint8[]"}]}  # fmt: skip
HISTORICAL_ABI = [{
    "name": "queryHistoricalCandles", "type": "function", "stateMutability": "view", "inputs": [_QUERY],
    "outputs": [{"name": "", "type": "tuple[]", "components": [{"name": "value", "type": "int128"}, {"name": "decimals", "type": "int128"}]}],
}]  # fmt: skip


def sdk_abi(name: str) -> list[dict[str, Any]]:
    import opengradient

    return json.loads((Path(opengradient.__file__).parent / "abi" / name).read_text())



def price_query(minutes: int = 30, base: str = "ETH"):  # type: ignore[no-untyped-def]
    import opengradient as og

    return og.HistoricalInputQuery(
        base=base, quote="USD", total_candles=10, candle_duration_in_mins=minutes, order=og.CandleOrder.ASCENDING,
        candle_types=[og.CandleType.OPEN, og.CandleType.HIGH, og.CandleType.LOW, og.CandleType.CLOSE],
    )  # fmt: skip


def model_id(node: Devnet, name: str) -> str:
    return next(m["id"] for m in node.catalog.list() if m["name"] == name)


def onnx_on_candles(w3: Web3, query: Any, block: int) -> float:
    """The price-range model run by onnxruntime on the candles 0x..F5 serves at `block`."""
    numbers = w3.eth.contract(HISTORICAL, abi=HISTORICAL_ABI).functions.queryHistoricalCandles(query.to_abi_format()).call(block_identifier=block)
    x = np.array([v / 10**d for v, d in numbers], dtype=np.float32).reshape(1, 10, 4)
    session = ort.InferenceSession(str(FIXTURES / "price_range.onnx"), providers=["CPUExecutionProvider"])
    return float(session.run(None, {"price_data": x})[0][0, 0])


def emitted(w3: Web3, address: str) -> list[tuple[int, str, float]]:
    """(block, tx hash, first output value) of each InferenceResultEmitted of a workflow."""
    contract = w3.eth.contract(address, abi=sdk_abi("PriceHistoryInference.abi"))
    out = []
    for log in contract.events.InferenceResultEmitted().get_logs(from_block=0):
        first = log["args"]["result"]["numbers"][0]["values"][0]
        value, decimals = first["value"], first["decimals"]
        out.append((log["blockNumber"], log["transactionHash"].to_0x_hex(), value / 10**decimals))
    return out


def workflows(url: str, recent: int = 50) -> list[dict[str, Any]]:
    return Web3(Web3.HTTPProvider(url)).provider.make_request("og_workflows", [recent])["result"]  # type: ignore[return-value]


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(zkml=False, block_time=0.25) as n:
        yield n


def test_the_unmodified_sdk_runs_a_workflow_and_the_scheduler_runs_it_by_itself(node: Devnet) -> None:
    import opengradient as og

    alpha = og.Alpha(private_key=DEV_KEYS[0], rpc_url=node.rpc_url)
    q = price_query()
    addr = alpha.new_workflow(model_cid=model_id(node, "price-range"), input_query=q, input_tensor_name="price_data",
                              scheduler_params=og.SchedulerParams(frequency=2, duration_hours=1))  # fmt: skip
    out = alpha.run_workflow(addr)
    latest = alpha.read_workflow_result(addr)
    history = wait_until("three results", lambda: (h := alpha.read_workflow_history(addr, 3)) and len(h) == 3 and h)
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    task = wait_until("two scheduled runs", lambda: [t for t in workflows(node.rpc_url) if t["contract"] == addr.lower() and t["runs"] >= 2])[0]

    # Every result the contract emitted — the user's run and the scheduler's — is the model's
    # output on the candles served at its block.
    runs = emitted(w3, addr)
    for block, _, value in runs:
        assert value == pytest.approx(onnx_on_candles(w3, q, block), rel=1e-6)
    # The SDK reads float32 values back from fixed point, so compare within float32's precision
    # rather than by rounding (a value near a rounding boundary lands on either side).
    values = [v for _, _, v in runs]

    def is_an_emitted_value(x: float) -> bool:
        return any(x == pytest.approx(v, rel=1e-6) for v in values)

    assert is_an_emitted_value(float(out.numbers["volatility"][0, 0]))
    assert is_an_emitted_value(float(latest.numbers["volatility"][0, 0]))
    assert all(is_an_emitted_value(float(h.numbers["volatility"][0, 0])) for h in history)

    # The scheduler's runs: system transactions from 0xff…fe to the workflow, each ok, in the
    # first block at or after its period, with the output og_workflows reports.
    assert (task["frequency"], task["owner"], task["failures"], task["modelId"]) == (2, DEV0.address.lower(), 0, model_id(node, "price-range"))
    assert task["query"] == {"base": "ETH", "quote": "USD", "totalCandles": 10, "candleDurationMins": 30, "order": 0}
    by_tx = {tx: v for _, tx, v in runs}
    for run in task["recentRuns"]:
        tx = w3.eth.get_transaction(run["txHash"])
        assert (tx["from"], tx["to"], tx["input"].to_0x_hex()) == (Web3.to_checksum_address(SYSTEM_ACCOUNT), addr, "0xc0406226")
        assert w3.eth.get_transaction_receipt(run["txHash"])["status"] == 1
        assert run["ok"] and run["timestamp"] >= run["due"]
        assert run["output"] == pytest.approx(by_tx[run["txHash"]], rel=1e-6)
    assert [r["due"] for r in task["recentRuns"]] == sorted({r["due"] for r in task["recentRuns"]})


def test_bad_workflow_input_reverts_with_a_reason_and_schedules_nothing(node: Devnet) -> None:
    import opengradient as og

    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    scheduler = w3.eth.contract(SCHEDULER, abi=sdk_abi("WorkflowScheduler.abi"))
    before = len(workflows(node.rpc_url))
    now = w3.eth.get_block("latest")["timestamp"]
    alpha = og.Alpha(private_key=DEV_KEYS[1], rpc_url=node.rpc_url)
    # A model that does not take the candle tensor, an unknown pair: run() reverts, named.
    wrong_model = alpha.new_workflow(model_cid=model_id(node, "mlp"), input_query=price_query(), input_tensor_name="price_data")
    unknown_pair = alpha.new_workflow(model_cid=model_id(node, "price-range"), input_query=price_query(base="XXX"), input_tensor_name="price_data")
    for addr, why in [(wrong_model, "price_data"), (unknown_pair, "XXX/USD")]:
        run = w3.eth.contract(addr, abi=sdk_abi("PriceHistoryInference.abi")).functions.run()
        with pytest.raises(ContractLogicError, match=why):
            run.estimate_gas({"from": DEV0.address})
        with pytest.raises(ContractLogicError):
            alpha.run_workflow(addr)
    cases = [
        ((DEV0.address, now + 3600, 5), "is not a contract"),
        ((wrong_model, now - 10, 5), "is not after the block's time"),
        ((wrong_model, now + 3600, 0), "frequency must be at least 1 second"),
    ]
    for args, why in cases:
        with pytest.raises(ContractLogicError, match=why):
            scheduler.functions.registerTask(*args).estimate_gas({"from": DEV0.address})
    assert len(workflows(node.rpc_url)) == before


def _csv_feed(path: Path, first_minute: int, minutes: int) -> dict[int, tuple[float, float, float, float, float]]:
    rows = {}
    lines = ["timestamp,open,high,low,close,volume"]
    for i in range(minutes):
        t = (first_minute + i) * 60
        o = 100 + (i * 7919 % 50) / 4  # moves around, exactly representable
        rows[t] = (o, o + 2.5, o - 1.25, o + 0.5, float(i + 1))
        lines.append(f"{t},{','.join(f'{v:g}' for v in rows[t])}")
    path.write_text("\n".join(lines) + "\n")
    return rows


def test_a_csv_price_feed_is_what_oghistorical_serves(tmp_path: Path) -> None:
    import opengradient as og

    now_minute = int(time.time()) // 60
    rows = _csv_feed(tmp_path / "eth.csv", now_minute - 180, 240)  # covers the next hour too
    with Devnet(zkml=False, fixtures=False, mining="manual", price_feeds={"ETH/USD": tmp_path / "eth.csv"}) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        w3.provider.make_request("evm_mine", [])
        block = w3.eth.get_block("latest")
        query = og.HistoricalInputQuery(base="ETH", quote="USD", total_candles=5, candle_duration_in_mins=3,
                                        order=og.CandleOrder.DESCENDING, candle_types=list(og.CandleType))  # fmt: skip
        got = w3.eth.contract(HISTORICAL, abi=HISTORICAL_ABI).functions.queryHistoricalCandles(query.to_abi_format()).call(block_identifier=block["number"])
        # The five 3-minute candles that end by the block, newest first, each as SDK
        # CandleType orders them (high, low, open, close, volume), aggregated from the rows.
        last_end = block["timestamp"] // 180 * 180
        expected = []
        for end in range(last_end, last_end - 5 * 180, -180):
            minutes = [rows[t] for t in range(end - 180, end, 60)]
            o, c = minutes[0][0], minutes[-1][3]
            h, low, v = max(m[1] for m in minutes), min(m[2] for m in minutes), sum(m[4] for m in minutes)
            expected += [h, low, o, c, v]
        assert [value / 10**decimals for value, decimals in got] == expected
        # Another pair still comes from the synthetic market; an unknown one reverts.
        btc = query.to_abi_format()
        contract = w3.eth.contract(HISTORICAL, abi=HISTORICAL_ABI)
        assert len(contract.functions.queryHistoricalCandles(("BTC",) + btc[1:]).call()) == 25
        with pytest.raises(ContractLogicError, match="XXX/USD"):
            contract.functions.queryHistoricalCandles(("XXX",) + btc[1:]).call()


def test_the_cli_refuses_a_bad_price_feed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n60,1,2,3,4,5\n")  # low above high
    cases = [
        (["--price-feed", "ETHUSD"], "expected BASE/QUOTE=FILE.csv"),
        (["--price-feed", f"ETH/USD={tmp_path / 'missing.csv'}"], "is not a file"),
        (["--price-feed", f"ETH/USD={bad}"], "price feed ETH/USD"),
    ]
    for args, why in cases:
        r = subprocess.run([og_devnet_command(), "up", "--port", "0", "--no-zkml", "--no-fixtures", *args],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode != 0 and why in r.stderr, (r.returncode, r.stderr)


def test_scheduled_runs_survive_kill_9(tmp_path: Path) -> None:
    import opengradient as og

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    args = ("--block-time", "0.25", "--no-zkml", "--state", str(tmp_path))
    proc = start_cli(*args, port=port)
    try:
        alpha = og.Alpha(private_key=DEV_KEYS[2], rpc_url=url)
        model = next(m["id"] for m in Web3(Web3.HTTPProvider(url)).provider.make_request("og_models", [])["result"] if m["name"] == "price-range")
        addr = alpha.new_workflow(model_cid=model, input_query=price_query(), input_tensor_name="price_data",
                                  scheduler_params=og.SchedulerParams(frequency=1, duration_hours=1))  # fmt: skip
        wait_until("two runs", lambda: workflows(url)[0]["runs"] >= 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc = start_cli(*args, port=port)
        restarted_at = Web3(Web3.HTTPProvider(url)).eth.block_number
        task = workflows(url)[0]
        assert (task["contract"], task["active"]) == (addr.lower(), True)
        runs_at_restart = task["runs"]
        after = wait_until("runs after the restart", lambda: [r for r in workflows(url)[0]["recentRuns"] if r["block"] > restarted_at and r["ok"]])
        assert workflows(url)[0]["runs"] > runs_at_restart and after
    finally:
        stop(proc)


def test_evm_increase_time_runs_a_day_of_hourly_schedule_in_seconds() -> None:
    import opengradient as og

    with Devnet(zkml=False, mining="auto") as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        alpha = og.Alpha(private_key=DEV_KEYS[0], rpc_url=node.rpc_url)
        alpha.new_workflow(model_cid=model_id(node, "price-range"), input_query=price_query(60), input_tensor_name="price_data",
                           scheduler_params=og.SchedulerParams(frequency=3600, duration_hours=25))  # fmt: skip
        registered = workflows(node.rpc_url)[0]
        for hour in range(1, 25):
            w3.provider.make_request("evm_increaseTime", [3600])
            wait_until(f"run {hour}", lambda h=hour: workflows(node.rpc_url)[0]["runs"] == h, timeout=30)
        task = workflows(node.rpc_url, 24)[0]
        assert [r["due"] for r in task["recentRuns"]] == [registered["nextRun"] + 3600 * i for i in range(24)]
        assert all(r["ok"] for r in task["recentRuns"]) and task["failures"] == 0
        # Hourly candles: each run saw another hour of the market, so the outputs move.
        assert len({r["output"] for r in task["recentRuns"]}) > 12


def test_a_resumed_chain_keeps_serving_its_price_feed(tmp_path: Path) -> None:
    now_minute = int(time.time()) // 60
    _csv_feed(tmp_path / "sol.csv", now_minute - 120, 180)
    query = ("SOL", "USD", 10, 1, 0, [3])
    state = tmp_path / "state"

    def closes(**feeds: Path) -> list[int]:
        with Devnet(zkml=False, fixtures=False, mining="manual", state=state, price_feeds=feeds) as node:
            w3 = Web3(Web3.HTTPProvider(node.rpc_url))
            w3.provider.make_request("evm_mine", [])
            return [v for v, _ in w3.eth.contract(HISTORICAL, abi=HISTORICAL_ABI).functions.queryHistoricalCandles(query).call(block_identifier=1)]

    served = closes(**{"SOL/USD": tmp_path / "sol.csv"})
    assert all(100 * 10**8 <= v <= 115 * 10**8 for v in served)  # the file's prices, not the synthetic ~150
    (tmp_path / "sol.csv").unlink()
    assert closes() == served
