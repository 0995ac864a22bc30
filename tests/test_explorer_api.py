"""The explorer's REST API and live events: pages, filters, search, clear 404/422 errors, and
an SSE stream that resumes from Last-Event-ID without losing events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import DEV0, result
from og_devnet import Devnet


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(block_time=0.1) as n:
        yield n


def get(node: Devnet, path: str, status: int = 200) -> Any:
    r = httpx.get(node.url + path, timeout=30)
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()


def wait_height(node: Devnet, height: int) -> None:
    deadline = time.monotonic() + 30
    while node.chain.head() < height:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_blocks_page_newest_first_with_a_cursor(node: Devnet) -> None:
    wait_height(node, 12)
    first = get(node, "/api/blocks?limit=5")
    numbers = [b["number"] for b in first["items"]]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 5
    second = get(node, f"/api/blocks?limit=5&before={first['next_before']}")
    assert second["items"][0]["number"] == numbers[-1] - 1
    block = get(node, f"/api/blocks/{numbers[0]}")
    assert block["hash"] == first["items"][0]["hash"] and block["state_root"]
    assert get(node, f"/api/blocks/{block['hash']}")["number"] == numbers[0]
    assert get(node, "/api/blocks/0x1")["number"] == 1


def test_inferences_filter_and_search(node: Devnet) -> None:
    sent = httpx.post(node.url + "/api/teach/samples", timeout=30).json()["txs"]
    assert {t["mode_name"] for t in sent} >= {"VANILLA", "TEE", "OPTIMISTIC"}
    tee = next(t["tx_hash"] for t in sent if t["mode_name"] == "TEE")
    deadline = time.monotonic() + 30
    while (r := result(node, "og_getInference", [tee])) is None or r["status"] != "settled":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    listed = get(node, "/api/inferences?mode=2&status=settled")["items"]
    assert tee in [i["tx_hash"] for i in listed] and all(i["mode"] == 2 for i in listed)
    assert get(node, f"/api/inferences/{tee}")["trust_gap_ms"] > 0
    winner = r["winner_node"]
    assert tee in [i["tx_hash"] for i in get(node, f"/api/inferences?node={winner}&limit=100")["items"]]
    assert get(node, f"/api/search?q={tee}") == {"kind": "inference", "path": f"/inference/{tee}"}
    assert get(node, f"/api/search?q={DEV0.address}")["kind"] == "address"
    assert get(node, "/api/search?q=3") == {"kind": "block", "path": "/block/3"}
    tx = get(node, f"/api/txs/{tee}")
    assert tx["status"] == 1 and tx["inference"]["mode_name"] == "TEE" and tx["logs"]
    account = get(node, f"/api/accounts/{tx['from']}")
    assert tee in [t["hash"] for t in account["txs"]] and int(account["balance"]) > 0
    stats = get(node, "/api/stats")
    assert stats["trust_gap_ms"]["TEE"]["samples"] >= 1 and stats["counts"]["settled"] >= 1
    assert get(node, "/api/models/" + r["model_id"] + "/quote?value_at_risk=1")["recommendation"]["name"] == "OPTIMISTIC"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/blocks/999999", 404), ("/api/blocks/xyz", 422), ("/api/blocks?limit=0", 422),
        ("/api/blocks?limit=101", 422), ("/api/blocks?before=-1", 422), ("/api/txs/0x" + "ab" * 32, 404),
        ("/api/txs/0x12", 422), ("/api/txs?address=nope", 422), ("/api/inferences/0x" + "cd" * 32, 404),
        ("/api/inferences/abc", 422), ("/api/inferences?mode=7", 422), ("/api/inferences?status=done", 422),
        ("/api/inferences?node=99", 422), ("/api/nodes/99", 404), ("/api/accounts/0x12", 422),
        ("/api/search?q=", 422), ("/api/search?q=nothing-here", 404), ("/api/models/nope/quote", 404),
        ("/api/models/x/quote?value_at_risk=-1", 422), ("/api/no-such-thing", 404),
        ("/api/blocks?before=99999999999999999999", 422), ("/api/blocks/99999999999999999999", 404),
        ("/api/blocks/0xffffffffffffffff", 404), ("/api/blocks/%C2%B2", 422), ("/api/search?q=%C2%B2", 404),
        ("/api/search?q=99999999999999999999", 404), ("/api/txs?before=5&before_key=x", 422),
        ("/api/inferences?before=5&before_key=12", 422),
    ],
)  # fmt: skip
def test_unknown_ids_get_404_and_bad_parameters_422_with_a_detail(node: Devnet, path: str, status: int) -> None:
    body = get(node, path, status)
    assert body["detail"], body


def test_page_paths_serve_the_explorer(node: Devnet) -> None:
    for path in ("/", "/block/3", "/inference/0x" + "ab" * 32, "/teach"):
        r = httpx.get(node.url + path)
        assert r.status_code == 200 and "<!doctype html>" in r.text.lower()
    assert httpx.get(node.url + "/no-such-file.js").status_code == 404


def read_events(node: Devnet, n: int, last_event_id: int | None = None) -> list[tuple[int, str, dict[str, Any]]]:
    """The next `n` events of /api/events (id, kind, data)."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    events: list[tuple[int, str, dict[str, Any]]] = []
    with httpx.stream("GET", node.url + "/api/events", headers=headers, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if line:
                key, _, value = line.partition(": ")
                fields[key] = value
                continue
            if "id" in fields:
                events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                if len(events) == n:
                    return events
            fields = {}
    raise AssertionError("stream ended")


def test_sse_resumes_from_last_event_id_without_losing_events(node: Devnet) -> None:
    first = read_events(node, 3)
    ids = [i for i, _, _ in first]
    assert ids == list(range(ids[0], ids[0] + 3))
    last_block = max(d["number"] for _, k, d in first if k == "block")
    # Disconnected for a while (blocks go on), then resumed: the next id follows the last seen.
    wait_height(node, last_block + 5)
    resumed = read_events(node, 5, last_event_id=ids[-1])
    assert [i for i, _, _ in resumed] == list(range(ids[-1] + 1, ids[-1] + 6))
    numbers = [d["number"] for _, k, d in resumed if k == "block"]
    assert numbers[0] == last_block + 1, "no block event lost while away"
    bad = httpx.get(node.url + "/api/events", headers={"Last-Event-ID": "x"})
    assert bad.status_code == 422


def test_node_fault_changes_are_events(node: Devnet) -> None:
    last = node.events.last_id
    node.set_node_fault(3, "slow:2")
    try:
        events = [e for e in node.events.since(last)[0] if e.kind == "node_fault"]
        assert events and events[0].data == {"index": 3, "fault": "slow:2"}
    finally:
        node.set_node_fault(3, "ok")


def test_pages_of_one_crowded_block_lose_no_row() -> None:
    with Devnet(mining="manual") as n:
        sender = n.chain.dev_accounts()[0][0]
        sent = {n.chain.send_transaction({"from": sender, "to": "0x" + "11" * 20, "value": 1}) for _ in range(7)}
        n.mine(1)
        seen, before, key = [], None, None
        while True:
            page = get(n, "/api/txs?limit=3" + (f"&before={before}&before_key={key}" if before is not None else ""))
            seen += [t["hash"] for t in page["items"]]
            before, key = page["next_before"], page["next_before_key"]
            if before is None:
                break
        assert set(seen) == sent and len(seen) == 7


def test_an_event_id_from_before_a_restart_gets_everything_kept_and_a_reset(node: Devnet) -> None:
    # The node restarted since the client's last event: its id is ahead of this run's.
    headers = {"Last-Event-ID": str(node.events.last_id + 10_000)}
    with httpx.stream("GET", node.url + "/api/events", headers=headers, timeout=30) as r:
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if line.startswith("id: "):
                break
    assert "event: reset" in lines
