"""Polled filters and JSON-RPC over WebSocket, as web3.py, ethers v6 and viem use them:
eth_newFilter / eth_newBlockFilter / eth_newPendingTransactionFilter with their changes and
logs, and ws://host:port/ with eth_subscribe (newHeads, logs, newPendingTransactions),
notifications shaped as geth sends them, and bounds that hold against abusive clients."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eth_utils import event_abi_to_log_topic
from web3 import AsyncWeb3, Web3
from web3.providers.persistent import WebSocketProvider
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conftest import DEV0, RECIPIENT, result, rpc
from og_devnet import Devnet
from og_devnet._core import encode_run_call
from og_devnet.api import ws as ws_module
from og_devnet.inference.fixedpoint import model_input
from og_devnet.rpc import filters

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
OTHER_TOPIC = "0x" + "ab" * 32
HEX_ID = re.compile(r"^0x[1-9a-f][0-9a-f]*$")


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(mining="manual") as n:
        yield n


@pytest.fixture
def w3(node: Devnet) -> Web3:
    return Web3(Web3.HTTPProvider(node.rpc_url))


def ws_url(node: Devnet) -> str:
    return node.url.replace("http://", "ws://") + "/"


def result_topic() -> str:
    """topic0 of the hub's InferenceResult event, from the ABI the SDK ships."""
    import opengradient

    abi = json.loads((Path(opengradient.__file__).parent / "abi" / "inference.abi").read_text())
    event = next(e for e in abi if e.get("type") == "event" and e["name"] == "InferenceResult")
    return "0x" + event_abi_to_log_topic(event).hex()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return value


def send_inference(node: Devnet) -> str:
    """An inference transaction to the native hub (pooled; its block emits InferenceResult)."""
    model = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
    numbers, _ = model_input({"input": np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32)})
    data = "0x" + encode_run_call(model, 0, json.dumps(numbers), "[]").hex()
    return result(node, "eth_sendTransaction", [{"from": DEV0.address, "to": HUB, "data": data, "gas": hex(300_000)}])


def decided(node: Devnet, tx_hash: str) -> bool:
    record = result(node, "og_getInference", [tx_hash])
    return record is not None and record["status"] != "pending"


def mine_inference(node: Devnet, tx_hash: str) -> list[dict[str, Any]]:
    """Mines the inference's block (manual mining: once its race is decided) and returns
    the block's logs as eth_getTransactionReceipt gives them; one is its InferenceResult."""
    wait_for(lambda: decided(node, tx_hash), "the inference to be decided")
    node.mine(1)
    receipt = result(node, "eth_getTransactionReceipt", [tx_hash])
    assert receipt is not None and receipt["status"] == "0x1", receipt
    assert [lg["topics"][0] for lg in receipt["logs"]].count(result_topic()) == 1, receipt["logs"]
    return receipt["logs"]


def result_logs(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [lg for lg in logs if lg["topics"][0] == result_topic()]


def error_of(node: Devnet, method: str, params: list[Any]) -> dict[str, Any]:
    body = rpc(node, method, params)
    assert "error" in body, body
    return body["error"]


# ---- polled filters over HTTP ----


def test_block_filter_reports_each_new_block_once(node: Devnet, w3: Web3) -> None:
    f = w3.eth.filter("latest")
    assert HEX_ID.match(f.filter_id), f.filter_id
    assert f.get_new_entries() == []
    mined = node.mine(2)
    assert f.get_new_entries() == [w3.eth.get_block(n)["hash"] for n in mined]
    assert w3.eth.get_filter_changes(f.filter_id) == []
    node.mine(1)
    assert w3.eth.get_filter_changes(f.filter_id) == [w3.eth.get_block("latest")["hash"]]
    assert w3.eth.uninstall_filter(f.filter_id) is True
    assert w3.eth.uninstall_filter(f.filter_id) is False
    assert error_of(node, "eth_getFilterChanges", [f.filter_id]) == {"code": -32000, "message": "filter not found"}


def test_pending_filter_reports_pooled_transactions(node: Devnet, w3: Web3) -> None:
    f = w3.eth.filter("pending")
    blocks = w3.eth.filter("latest")
    assert f.get_new_entries() == []
    sent = [w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": v, "gas": 21_000}) for v in (1, 2)]
    assert f.get_new_entries() == sent
    node.mine(1)
    assert f.get_new_entries() == []  # mined, not pooled again
    assert len(blocks.get_new_entries()) == 1
    assert error_of(node, "eth_getFilterLogs", [f.filter_id])["message"] == "filter not found"
    for flt in (f, blocks):
        assert w3.eth.uninstall_filter(flt.filter_id)


def test_log_filters_match_address_topics_and_ranges(node: Devnet, w3: Web3) -> None:
    topic = result_topic()
    head = w3.eth.block_number
    matching = {
        "address": w3.eth.filter({"address": HUB, "topics": [topic]}),
        "address list and OR-topics": w3.eth.filter({"address": [RECIPIENT, HUB], "topics": [[OTHER_TOPIC, topic]]}),
        "null topic": w3.eth.filter({"topics": [None]}),
        "from a number": w3.eth.filter({"fromBlock": hex(head + 1), "address": HUB}),
    }
    missing = {
        "other topic": w3.eth.filter({"address": HUB, "topics": [OTHER_TOPIC]}),
        "other address": w3.eth.filter({"address": RECIPIENT}),
        "second topic": w3.eth.filter({"topics": [topic, OTHER_TOPIC]}),
        "range passed": w3.eth.filter({"fromBlock": "0x0", "toBlock": hex(head), "address": HUB}),
        "range to come": w3.eth.filter({"fromBlock": hex(head + 100), "address": HUB}),
    }
    block_logs = mine_inference(node, send_inference(node))
    logs = result_logs(block_logs)
    for name, f in matching.items():
        expected = block_logs if name == "null topic" else logs
        assert result(node, "eth_getFilterChanges", [f.filter_id]) == expected, name
        assert result(node, "eth_getFilterChanges", [f.filter_id]) == [], name
    for name, f in missing.items():
        assert result(node, "eth_getFilterChanges", [f.filter_id]) == [], name
    # web3.py's own decoding of the same answers.
    (decoded,) = w3.eth.get_filter_logs(matching["address"].filter_id)
    assert decoded["transactionHash"].to_0x_hex() == logs[0]["transactionHash"]
    assert decoded["topics"][0].to_0x_hex() == topic
    # eth_getFilterLogs: what is on chain for the criteria (latest..latest by default, as geth).
    since_zero = w3.eth.filter({"fromBlock": "earliest", "address": HUB, "topics": [topic]})
    assert result(node, "eth_getFilterLogs", [since_zero.filter_id])[-1] == logs[0]
    node.mine(1)
    assert result(node, "eth_getFilterLogs", [matching["address"].filter_id]) == []
    assert result(node, "eth_getFilterLogs", [since_zero.filter_id])[-1] == logs[0]
    for f in [*matching.values(), *missing.values(), since_zero]:
        assert w3.eth.uninstall_filter(f.filter_id)


def test_filters_survive_a_revert_that_moves_the_head_back(node: Devnet, w3: Web3) -> None:
    snapshot = result(node, "evm_snapshot")
    blocks = w3.eth.filter("latest")
    logs = w3.eth.filter({"fromBlock": "earliest", "address": HUB})
    node.mine(3)
    assert result(node, "evm_revert", [snapshot]) is True
    after = node.mine(1)[0]
    changes = blocks.get_new_entries()
    assert len(changes) == 4 and changes[-1] == w3.eth.get_block(after)["hash"]
    assert blocks.get_new_entries() == []
    assert isinstance(w3.eth.get_filter_logs(logs.filter_id), list)
    assert w3.eth.get_filter_changes(logs.filter_id) == []


def test_unpolled_filters_expire_after_five_minutes(node: Devnet, w3: Web3, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = filters.filters_of(node)
    offset = [0.0]
    monkeypatch.setattr(manager, "clock", lambda: time.monotonic() + offset[0])
    polled, idle = w3.eth.filter("latest"), w3.eth.filter("latest")
    offset[0] += 299
    assert polled.get_new_entries() == []  # polling renews the deadline
    offset[0] += 299
    assert polled.get_new_entries() == []
    assert error_of(node, "eth_getFilterChanges", [idle.filter_id])["message"] == "filter not found"
    offset[0] += 301
    assert error_of(node, "eth_getFilterChanges", [polled.filter_id])["message"] == "filter not found"


def test_live_filters_and_their_backlog_are_capped(node: Devnet, w3: Web3, monkeypatch: pytest.MonkeyPatch) -> None:
    manager = filters.filters_of(node)
    monkeypatch.setattr(filters, "MAX_FILTERS", len(manager) + 2)
    first, second = w3.eth.filter("latest"), w3.eth.filter("pending")
    refused = error_of(node, "eth_newBlockFilter", [])
    assert refused["code"] == -32005 and "too many filters" in refused["message"]
    assert w3.eth.uninstall_filter(second.filter_id)
    monkeypatch.setattr(filters, "MAX_BUFFERED", 3)
    lagging = w3.eth.filter("latest")
    node.mine(4)
    overflow = error_of(node, "eth_getFilterChanges", [lagging.filter_id])
    assert overflow["code"] == -32005 and "fell more than 3 entries behind" in overflow["message"]
    assert error_of(node, "eth_getFilterChanges", [lagging.filter_id])["message"] == "filter not found"
    assert w3.eth.uninstall_filter(first.filter_id)
    assert len(manager) < filters.MAX_FILTERS


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("eth_newFilter", [{"address": 5}]),
        ("eth_newFilter", [{"address": ["0x12"]}]),
        ("eth_newFilter", [{"topics": [1]}]),
        ("eth_newFilter", [{"topics": [None, None, None, None, None]}]),
        ("eth_newFilter", [{"fromBlock": "0x5", "toBlock": "0x1"}]),
        ("eth_newFilter", [{"blockHash": OTHER_TOPIC, "fromBlock": "0x1"}]),
        ("eth_newFilter", ["latest"]),
        ("eth_getFilterChanges", [5]),
        ("eth_uninstallFilter", [{"id": 1}]),
    ],
)  # fmt: skip
def test_bad_filter_parameters_are_invalid_params(node: Devnet, method: str, params: list[Any]) -> None:
    err = error_of(node, method, params)
    assert err["code"] == -32602 and err["message"], err


def test_unknown_filter_ids_and_subscriptions_over_http(node: Devnet) -> None:
    assert error_of(node, "eth_getFilterChanges", ["0x1234"]) == {"code": -32000, "message": "filter not found"}
    assert error_of(node, "eth_getFilterLogs", ["0x1234"]) == {"code": -32000, "message": "filter not found"}
    assert result(node, "eth_uninstallFilter", ["0x1234"]) is False
    # As geth answers a subscription over HTTP.
    assert error_of(node, "eth_subscribe", ["newHeads"]) == {"code": -32601, "message": "notifications not supported"}


# ---- WebSocket: the raw protocol as ethers v6 and viem speak it ----


class Peer:
    """A WebSocket client that keeps the notifications it reads while waiting for answers."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.notes: list[dict[str, Any]] = []
        self._id = 0

    def send(self, payload: Any) -> None:
        self.conn.send(json.dumps(payload))

    def read(self) -> Any:
        return json.loads(self.conn.recv(timeout=30))

    def answer(self, matches: Callable[[Any], bool]) -> Any:
        """Reads until a frame that is not a notification and matches; notifications read on
        the way are kept in order."""
        while True:
            frame = self.read()
            if isinstance(frame, dict) and frame.get("method") == "eth_subscription":
                self.notes.append(frame)
            else:
                assert matches(frame), frame
                return frame

    def call(self, method: str, params: list[Any] | None = None) -> dict[str, Any]:
        self._id += 1
        id_ = self._id
        self.send({"jsonrpc": "2.0", "id": id_, "method": method, "params": params or []})
        return self.answer(lambda f: isinstance(f, dict) and f.get("id") == id_)

    def ok(self, method: str, params: list[Any] | None = None) -> Any:
        body = self.call(method, params)
        assert "error" not in body, body
        return body["result"]

    def take_notes(self) -> list[dict[str, Any]]:
        notes, self.notes = self.notes, []
        return notes


@pytest.fixture
def peer(node: Devnet) -> Iterator[Peer]:
    with connect(ws_url(node), open_timeout=10) as conn:
        yield Peer(conn)


def check_notification(note: dict[str, Any], subscription: str) -> Any:
    """geth's shape, key by key: {"jsonrpc","method","params":{"subscription","result"}}."""
    assert set(note) == {"jsonrpc", "method", "params"}, note
    assert note["jsonrpc"] == "2.0" and note["method"] == "eth_subscription"
    assert set(note["params"]) == {"subscription", "result"}
    assert note["params"]["subscription"] == subscription
    return note["params"]["result"]


def test_every_json_rpc_method_answers_over_websocket(node: Devnet, peer: Peer) -> None:
    assert peer.ok("eth_chainId") == hex(node.chain.chain_id)
    assert peer.ok("eth_blockNumber") == hex(node.chain.head())
    assert peer.call("no_such_method")["error"]["code"] == -32601
    assert peer.ok("eth_getBalance", [DEV0.address, "latest"]) == result(node, "eth_getBalance", [DEV0.address, "latest"])
    before = node.chain.head()
    assert peer.ok("evm_mine") == "0x0"
    assert node.chain.head() == before + 1
    # A batch, answered as one frame.
    peer.send([{"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []} for i in (7, 8)])
    batch = peer.answer(lambda f: isinstance(f, list))
    assert sorted(a["id"] for a in batch) == [7, 8] and {a["result"] for a in batch} == {hex(node.chain.chain_id)}


def test_ethers_new_heads_subscription(node: Devnet, peer: Peer) -> None:
    sub = peer.ok("eth_subscribe", ["newHeads"])
    assert HEX_ID.match(sub), sub
    peer.ok("evm_mine")  # the block's notification is sent before the answer
    (note,) = peer.take_notes()
    head = check_notification(note, sub)
    block = result(node, "eth_getBlockByNumber", ["latest", False])
    assert head == {k: v for k, v in block.items() if k != "transactions"}
    assert peer.ok("eth_unsubscribe", [sub]) is True
    peer.ok("evm_mine")
    assert peer.take_notes() == []
    assert peer.call("eth_unsubscribe", [sub])["error"] == {"code": -32000, "message": "subscription not found"}


def test_ethers_logs_and_pending_transaction_subscriptions(node: Devnet, peer: Peer) -> None:
    topic = result_topic()
    logs_sub = peer.ok("eth_subscribe", ["logs", {"address": HUB, "topics": [topic]}])
    others = peer.ok("eth_subscribe", ["logs", {"address": HUB, "topics": [OTHER_TOPIC]}])
    any_log = peer.ok("eth_subscribe", ["logs", {}])
    pending = peer.ok("eth_subscribe", ["newPendingTransactions"])
    assert len({logs_sub, others, any_log, pending}) == 4
    tx_hash = send_inference(node)
    block_logs = mine_inference(node, tx_hash)
    logs = result_logs(block_logs)
    peer.ok("eth_blockNumber")  # everything notified so far was read before this answer
    notes = peer.take_notes()
    by_sub: dict[str, list[Any]] = {}
    for note in notes:
        by_sub.setdefault(note["params"]["subscription"], []).append(check_notification(note, note["params"]["subscription"]))
    assert by_sub[pending] == [tx_hash]
    assert by_sub[logs_sub] == logs  # field by field what the receipt holds
    assert all(lg["removed"] is False for lg in by_sub[logs_sub])
    assert by_sub[any_log] == block_logs
    assert others not in by_sub
    for sub in (logs_sub, others, any_log, pending):
        assert peer.ok("eth_unsubscribe", [sub]) is True


def test_viem_batches_with_subscriptions(node: Devnet, peer: Peer) -> None:
    peer.send([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_subscribe", "params": ["newPendingTransactions"]},
    ])  # fmt: skip
    answers = {a["id"]: a for a in peer.answer(lambda f: isinstance(f, list))}
    assert set(answers) == {1, 2, 3}
    heads, pending = answers[1]["result"], answers[3]["result"]
    assert answers[2]["result"] == hex(node.chain.head())
    peer.ok("evm_mine")
    (note,) = peer.take_notes()
    assert check_notification(note, heads)["hash"] == result(node, "eth_getBlockByNumber", ["latest", False])["hash"]
    peer.send([
        {"jsonrpc": "2.0", "id": 4, "method": "eth_unsubscribe", "params": [heads]},
        {"jsonrpc": "2.0", "id": 5, "method": "eth_unsubscribe", "params": [pending]},
    ])  # fmt: skip
    assert sorted((a["id"], a["result"]) for a in peer.answer(lambda f: isinstance(f, list))) == [(4, True), (5, True)]


def test_web3_websocket_provider_sees_new_heads(node: Devnet) -> None:
    async def run() -> None:
        async with AsyncWeb3(WebSocketProvider(ws_url(node))) as w3:
            assert await w3.eth.chain_id == node.chain.chain_id
            sub = await w3.eth.subscribe("newHeads")
            mined = []
            for _ in range(2):
                await w3.provider.make_request("evm_mine", [])
                mined.append(await w3.eth.block_number)
            heads: list[Any] = []

            async def two_heads() -> None:
                async for message in w3.socket.process_subscriptions():
                    assert message["subscription"] == sub
                    heads.append(message["result"])
                    if len(heads) == 2:
                        return

            await asyncio.wait_for(two_heads(), timeout=30)
            assert [h["number"] for h in heads] == mined
            for h in heads:
                assert h["hash"] == (await w3.eth.get_block(h["number"]))["hash"]
            assert await w3.eth.unsubscribe(sub) is True

    asyncio.run(run())


# ---- WebSocket: abusive clients ----


def test_non_json_frames_get_a_parse_error_and_the_connection_stays_usable(node: Devnet, peer: Peer) -> None:
    for junk in ("not json", '{"method": "eth_subscribe", '):
        peer.conn.send(junk)
        err = peer.answer(lambda f: True)
        assert err["jsonrpc"] == "2.0" and err["id"] is None and err["error"]["code"] == -32700
    assert peer.ok("eth_chainId") == hex(node.chain.chain_id)
    peer.conn.send(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "eth_chainId"}).encode())  # binary frame
    assert peer.answer(lambda f: f.get("id") == 9)["result"] == hex(node.chain.chain_id)


def test_unknown_subscriptions_and_the_per_connection_cap(node: Devnet, peer: Peer) -> None:
    assert peer.call("eth_subscribe", ["syncing"])["error"]["code"] == -32602
    assert peer.call("eth_subscribe", ["logs", {"address": 5}])["error"]["code"] == -32602
    assert peer.call("eth_subscribe", ["newPendingTransactions", True])["error"]["code"] == -32602
    cap = ws_module.MAX_SUBSCRIPTIONS
    peer.send([{"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": ["newHeads"]} for i in range(cap + 1)])
    answers = sorted(peer.answer(lambda f: isinstance(f, list)), key=lambda a: a["id"])
    assert all("result" in a for a in answers[:cap])
    assert answers[cap]["error"]["code"] == -32005 and "too many subscriptions" in answers[cap]["error"]["message"]
    assert peer.ok("eth_unsubscribe", [answers[0]["result"]]) is True
    assert HEX_ID.match(peer.ok("eth_subscribe", ["newHeads"]))


def test_an_oversized_message_closes_only_that_connection(node: Devnet) -> None:
    with connect(ws_url(node), max_size=None) as conn:
        with pytest.raises(ConnectionClosed) as closed:
            conn.send("x" * (ws_module.MAX_MESSAGE + 1))
            conn.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    with connect(ws_url(node)) as conn:
        assert Peer(conn).ok("eth_chainId") == hex(node.chain.chain_id)


def test_subscriptions_die_with_their_connection(node: Devnet) -> None:
    base = len(node.block_listeners), len(node.tx_listeners)
    with connect(ws_url(node)) as conn:
        Peer(conn).ok("eth_subscribe", ["newHeads"])
        assert (len(node.block_listeners), len(node.tx_listeners)) == (base[0] + 1, base[1] + 1)
    wait_for(lambda: (len(node.block_listeners), len(node.tx_listeners)) == base, "the connection's hooks to go")
    node.mine(1)  # nothing left to notify, nothing fails


def test_a_client_that_stops_reading_is_closed_with_a_reason(node: Devnet) -> None:
    base = len(node.block_listeners)
    # max_queue=1: the client stops reading the socket once one message waits unread.
    with connect(ws_url(node), max_queue=1) as conn:
        peer = Peer(conn)
        subs = 100  # each block then costs 100 notifications
        peer.send([{"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": ["newHeads"]} for i in range(subs)])
        assert all("result" in a for a in peer.answer(lambda f: isinstance(f, list)))
        assert len(node.block_listeners) == base + 1
        for _ in range(5000):
            node.mine(1)
            if len(node.block_listeners) == base:
                break
        assert len(node.block_listeners) == base, "the server kept a client that read nothing"
        read = 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                conn.recv(timeout=30)
                read += 1
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008, closed.value
    assert "too slow" in closed.value.rcvd.reason
    assert read >= subs  # what was already sent still arrived, then the close
