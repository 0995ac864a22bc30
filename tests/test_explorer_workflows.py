"""The explorer shows workflows: /api/workflows lists the scheduler's tasks in og_workflows'
shape, a run's call to OGHistorical's runInferenceOnPriceFeed is marked as an inference, the
event stream announces each run, and the workflow page plots each run's output and lists the
runs, growing while it stays open. API first, then one headless-Chromium pass."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import playwright.sync_api as playwright
import pytest
import vyper
from web3 import Web3

from browser import chromium, shot, strict_page
from conftest import DEV_KEYS, result, wait_until
from og_devnet import Devnet

expect, Page = playwright.expect, playwright.Page
HISTORICAL = "0x00000000000000000000000000000000000000f5"
SCHEDULER = "0x7179724De4e7FF9271FA40C0337c7f90C0508eF6"
REGISTER_ABI = [{"name": "registerTask", "type": "function", "stateMutability": "nonpayable", "outputs": [], "inputs": [
    {"name": "contract", "type": "address"}, {"name": "endTime", "type": "uint256"}, {"name": "frequency", "type": "uint256"}]}]  # fmt: skip
#: A task whose every run fails: not an SDK workflow, so no model, query or output either.
REVERTER = """
# pragma version ~=0.4.3
@external
def run():
    raise "closed for the day"
"""
KEYS = {"id", "contract", "owner", "endTime", "frequency", "nextRun", "runs", "failures", "cancelled", "active",
        "modelId", "inputName", "query", "recentRuns"}  # fmt: skip


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(zkml=False) as n:
        yield n


def get(node: Devnet, path: str, status: int = 200) -> Any:
    r = httpx.get(node.url + path, timeout=60)
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()



@pytest.fixture(scope="module")
def task(node: Devnet) -> dict[str, Any]:
    """A workflow made by the unmodified SDK, run every second by the chain, with 2 runs done."""
    import opengradient as og

    model = next(m["id"] for m in node.catalog.list() if m["name"] == "price-range")
    alpha = og.Alpha(private_key=DEV_KEYS[0], rpc_url=node.rpc_url)
    query = og.HistoricalInputQuery(
        base="ETH", quote="USD", total_candles=10, candle_duration_in_mins=1, order=og.CandleOrder.ASCENDING,
        candle_types=[og.CandleType.OPEN, og.CandleType.HIGH, og.CandleType.LOW, og.CandleType.CLOSE],
    )  # fmt: skip
    address = alpha.new_workflow(model_cid=model, input_query=query, input_tensor_name="price_data",
                                 scheduler_params=og.SchedulerParams(frequency=1, duration_hours=1))  # fmt: skip
    found = wait_until("the task's first runs", lambda: next(
        (t for t in get(node, "/api/workflows") if t["contract"] == address.lower() and t["runs"] >= 2), None))  # fmt: skip
    return {**found, "model": model}


@pytest.fixture(scope="module")
def failing(node: Devnet) -> dict[str, Any]:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    sender = w3.eth.accounts[1]
    compiled = vyper.compile_code(REVERTER, output_formats=["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": sender, "data": compiled["bytecode"]}), timeout=60
    )
    end = w3.eth.get_block("latest")["timestamp"] + 3600
    register = w3.eth.contract(SCHEDULER, abi=REGISTER_ABI).functions.registerTask(receipt["contractAddress"], end, 1)
    assert w3.eth.wait_for_transaction_receipt(register.transact({"from": sender}), timeout=60)["status"] == 1
    contract = receipt["contractAddress"].lower()
    return wait_until("two failed runs", lambda: next(
        (t for t in get(node, "/api/workflows") if t["contract"] == contract and t["failures"] >= 2), None))  # fmt: skip


# ---- API ----


def test_list_and_one_in_og_workflows_shape(node: Devnet, task: dict[str, Any]) -> None:
    listed = get(node, "/api/workflows")
    assert [t["id"] for t in listed] == [t["id"] for t in result(node, "og_workflows")]
    assert all(set(t) == KEYS for t in listed)
    one = get(node, f"/api/workflows/{task['id']}")
    assert set(one) == KEYS and one["contract"] == task["contract"] and one["modelId"] == task["model"]
    assert one["inputName"] == "price_data" and one["frequency"] == 1 and one["active"] and not one["cancelled"]
    assert one["query"] == {"base": "ETH", "quote": "USD", "totalCandles": 10, "candleDurationMins": 1, "order": 0}
    runs = one["recentRuns"]
    assert len(runs) == min(one["runs"], 200) >= 2 and all(r["ok"] and isinstance(r["output"], float) for r in runs)
    assert [r["block"] for r in runs] == sorted(r["block"] for r in runs)  # oldest first
    # `recent` bounds the runs each task carries.
    assert get(node, f"/api/workflows/{task['id']}?recent=0")["recentRuns"] == []
    assert len(get(node, "/api/workflows?recent=1")[0]["recentRuns"]) == 1
    assert len(get(node, f"/api/workflows/{task['id']}?recent=1000")["recentRuns"]) >= len(runs)


@pytest.mark.parametrize("query", ["recent=-1", "recent=1001", "recent=abc", "recent=1.5"])
def test_bad_recent_is_422_naming_it(node: Devnet, task: dict[str, Any], query: str) -> None:
    for path in ("/api/workflows", f"/api/workflows/{task['id']}"):
        detail = get(node, f"{path}?{query}", 422)["detail"]
        assert detail and all(d["loc"] == ["query", "recent"] and d["msg"] for d in detail), detail


def test_unknown_task_is_404(node: Devnet, task: dict[str, Any]) -> None:
    assert "no workflow task 999" in get(node, "/api/workflows/999", 404)["detail"]
    assert get(node, "/api/workflows/x", 422)["detail"]


def test_a_run_calls_the_price_feed_inference_and_has_its_record(node: Devnet, task: dict[str, Any]) -> None:
    run = task["recentRuns"][-1]
    frame = get(node, f"/api/txs/{run['txHash']}/calls")
    assert frame["to"].lower() == task["contract"] and frame["is_inference"] is False
    feed = [c for c in frame["calls"] if c["to"].lower() == HISTORICAL]
    assert len(feed) == 1 and feed[0]["input"].startswith("0xa192a0f9")
    assert feed[0]["is_inference"] is True and feed[0]["inference_call"] == 0
    record = wait_until("the run's inference record", lambda: get(node, f"/api/txs/{run['txHash']}")["inference"])
    calls = record["calls"] if record.get("many") else [record]
    assert [c.get("call_index") for c in calls] == [0] and calls[0]["model_id"] == task["model"]


def test_each_run_is_an_event(node: Devnet, task: dict[str, Any]) -> None:
    events, _ = node.events.since(0)
    runs = {e.data["tx_hash"]: e.data for e in events if e.kind == "workflow_run"}
    for run in get(node, f"/api/workflows/{task['id']}")["recentRuns"]:
        if run["txHash"] in runs:  # the ring is bounded; the runs in it match
            assert runs[run["txHash"]] == {"contract": task["contract"], "tx_hash": run["txHash"], "block_number": run["block"],
                                           "ok": run["ok"], "timestamp_ms": run["timestampMs"]}  # fmt: skip
    assert task["recentRuns"][-1]["txHash"] in runs


# ---- browser ----


@pytest.fixture(scope="module")
def browser(node: Devnet) -> Iterator[playwright.Browser]:
    # Depends on `node` so the browser (and its open event streams) closes before the devnet.
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: playwright.Browser) -> Iterator[Page]:
    with strict_page(browser) as pg:
        yield pg


#: What the page shows now, read in one go so table and plot are compared at one instant.
SHOWN = """() => ({
  rows: [...document.querySelectorAll('[data-testid=run]')].map((r) => r.dataset.tx),
  points: [...document.querySelectorAll('[data-testid=run-point]')].map((p) => ({
    tx: p.dataset.tx, ok: p.dataset.ok === 'true', output: p.dataset.output === undefined ? null : Number(p.dataset.output),
    cy: p.getAttribute('cy') === null ? null : Number(p.getAttribute('cy')) })),
})"""


def grows(page: Page, testid: str, more_than: int) -> None:
    page.wait_for_function("([id, n]) => document.querySelectorAll(`[data-testid=${id}]`).length > n",
                           arg=[testid, more_than], timeout=30_000)  # fmt: skip


def test_workflow_page_plots_and_lists_runs_live(
    page: Page, node: Devnet, task: dict[str, Any], tmp_path: Path
) -> None:
    # The list, reached from the nav: the task, its query, a link to its page.
    page.goto(node.url + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Workflows")
    row = page.get_by_role("row").filter(has=page.locator(f'a[href="/workflow/{task["id"]}"]'))
    expect(row).to_contain_text("ETH/USD 10×1m")
    expect(row).to_contain_text("active")
    shot(page, tmp_path, "workflows")
    row.get_by_role("link", name=f"#{task['id']}").click()
    expect(page).to_have_url(f"{node.url}/workflow/{task['id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Workflow #{task['id']}")
    expect(page.get_by_test_id("query")).to_contain_text("ETH/USD 10×1m")
    expect(page.get_by_role("link", name="price-range")).to_be_visible()
    expect(page.locator(f'a[title="{task["contract"]}"]').first).to_be_visible()

    # Left open, the page gains runs: rows in the table and points in the plot.
    grows(page, "run", 0)
    first = page.evaluate(SHOWN)
    grows(page, "run", len(first["rows"]) + 2)
    grows(page, "run-point", len(first["points"]) + 2)
    shown = page.evaluate(SHOWN)
    assert len(shown["rows"]) == len(shown["points"]) >= len(first["rows"]) + 3

    # Each point is a run the API has, at its output; the same runs as the table, none skipped.
    api = {r["txHash"]: r for r in get(node, f"/api/workflows/{task['id']}")["recentRuns"]}
    points = shown["points"]
    assert {p["tx"] for p in points} == set(shown["rows"]) <= set(api)
    assert [p["tx"] for p in points] == list(api)[: len(points)]  # oldest first, contiguous
    for p in points:
        assert p["ok"] == api[p["tx"]]["ok"] and p["output"] == api[p["tx"]]["output"]
    # Higher outputs are drawn higher (smaller y), equal ones level.
    by_output = sorted((p["output"], p["cy"]) for p in points if p["ok"])
    assert all((a[0] == b[0]) == (a[1] == b[1]) and a[1] >= b[1] for a, b in pairwise(by_output))
    shot(page, tmp_path, "workflow")

    # A run opens into its inference timeline, and its transaction marks the price-feed call.
    tx = page.get_by_test_id("run").first.get_attribute("data-tx")
    run = page.locator(f'[data-testid=run][data-tx="{tx}"]')  # new runs go on top: keep to this one
    run.get_by_test_id("run-toggle").click()
    timeline = page.get_by_test_id("call-timeline")
    expect(timeline).to_have_count(1)
    expect(timeline).to_contain_text("Call 0")
    expect(timeline.get_by_test_id("timeline")).to_be_visible()
    grows(page, "run", len(page.evaluate(SHOWN)["rows"]))  # still live, the timeline stays open
    expect(timeline).to_be_visible()
    shot(page, tmp_path, "workflow-run-timeline")
    run.locator(f'a[href="/tx/{tx}"]').click()
    expect(page.get_by_test_id("calls").get_by_test_id("inference-call")).to_have_text(["inference call 0"])


def test_failed_runs_are_marked(page: Page, node: Devnet, failing: dict[str, Any], tmp_path: Path) -> None:
    assert failing["modelId"] is None and failing["query"] is None
    assert all(not r["ok"] and r["output"] is None for r in failing["recentRuns"])
    page.goto(f"{node.url}/workflow/{failing['id']}")
    expect(page.get_by_text("not an SDK workflow contract")).to_be_visible()
    grows(page, "run", 1)
    shown = page.evaluate(SHOWN)
    assert len(shown["points"]) == len(shown["rows"]) and not any(p["ok"] for p in shown["points"])
    expect(page.locator("[data-testid=run-chart] path.run-point.failed").first).to_be_visible()
    expect(page.locator("[data-testid=run-chart] circle")).to_have_count(0)
    expect(page.get_by_test_id("run").first.get_by_role("cell", name="failed", exact=True)).to_be_visible()
    shot(page, tmp_path, "workflow-failing")
