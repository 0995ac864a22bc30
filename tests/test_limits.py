"""Bounded requests (issue 9 §1): body limits hold while reading, uploads stream to disk under
their cap and leave nothing behind, upload file names never become paths, a batch shares one
budget of expensive work, SSE clients replaying the ring do not starve JSON-RPC. Each bad
input gets a 4xx (or a JSON-RPC error) with a message, no 500 and no traceback in the log."""

from __future__ import annotations

import select
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import rawhttp
from logcheck import no_errors_logged
from conftest import result, rpc
from og_devnet import Devnet
from og_devnet.inference import catalog
from og_devnet.rpc import dev

MB = 1024 * 1024


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(mining="manual", fixtures=False, zkml=False) as n:
        # The memory tests compare RSS before and after a request: the start's own imports
        # (it finishes in the background) must not be counted as the request's.
        n.wait_ready()
        yield n


@pytest.fixture(autouse=True)
def clean_log() -> Iterator[None]:
    with no_errors_logged():
        yield


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def still_serving(node: Devnet) -> None:
    assert result(node, "eth_chainId") == "0x29f8"


def leftovers(node: Devnet) -> list[str]:
    return [p.name for p in (node.state_dir / "models").iterdir() if p.name.endswith(".part")]


JSON = {"Host": "127.0.0.1", "Content-Type": "application/json"}


# ---- body limits ----


def test_a_declared_300_mb_body_is_refused_before_it_is_read(node: Devnet) -> None:
    before = rss()
    r = rawhttp.request(node.port, "POST", "/", {**JSON, "Content-Length": str(300 * MB)}, rawhttp.repeat(b" " * MB, 300 * MB))
    assert r.status == 413 and "over the limit of 16777216 bytes" in r.json()["detail"]
    assert r.sent < 32 * MB  # what the sockets' buffers took before the answer came
    assert rss() - before < 10 * MB
    still_serving(node)


def test_a_chunked_json_rpc_body_is_refused_once_past_the_limit(node: Devnet) -> None:
    r = rawhttp.request(node.port, "POST", "/", {**JSON, "Transfer-Encoding": "chunked"},
                        rawhttp.chunked(rawhttp.repeat(b" " * MB, 300 * MB)))  # fmt: skip
    assert r.status == 413 and "over the limit" in r.json()["detail"]
    assert r.sent < 48 * MB
    still_serving(node)


def test_routes_without_a_body_never_take_one(node: Devnet) -> None:
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json"}
    for path in ("/api/teach/samples", "/api/no-such-route"):
        r = rawhttp.request(node.port, "POST", path, {**headers, "Transfer-Encoding": "chunked"},
                            rawhttp.chunked(rawhttp.repeat(b"x" * 65536, 50 * MB)))  # fmt: skip
        assert 400 <= r.status < 500 and r.json()["detail"]
        assert r.sent < 16 * MB
        r = rawhttp.request(node.port, "POST", path, {**headers, "Content-Length": str(MB)}, rawhttp.repeat(b"x" * 65536, MB))
        assert r.status == 413 and "over the limit of 65536 bytes" in r.json()["detail"]
    still_serving(node)


# ---- uploads ----


def multipart_head(boundary: str, filename: str) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip


def test_a_huge_upload_streams_to_disk_and_stops_at_the_cap(node: Devnet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "MAX_MODEL_BYTES", 8 * MB)  # what 2 GiB is, at test scale
    boundary = "b0undary"

    def body() -> Iterator[bytes | memoryview]:
        yield multipart_head(boundary, "huge.onnx")
        yield from rawhttp.repeat(b"\x07" * MB, 300 * MB)
        yield f"\r\n--{boundary}--\r\n".encode()

    before = rss()
    headers = {"Host": "127.0.0.1", "Content-Type": f"multipart/form-data; boundary={boundary}", "Transfer-Encoding": "chunked"}
    r = rawhttp.request(node.port, "POST", "/api/models", headers, rawhttp.chunked(body()))
    assert r.status == 413 and r.json()["detail"] == f"model files are limited to {8 * MB} bytes"
    assert r.sent < 64 * MB
    assert rss() - before < 10 * MB
    assert leftovers(node) == []
    # Declared too big: refused before a byte is read.
    declared = {**headers, "Content-Length": str(300 * MB)}
    del declared["Transfer-Encoding"]
    r = rawhttp.request(node.port, "POST", "/api/models", declared, rawhttp.repeat(b"\x07" * MB, 300 * MB))
    assert r.status == 413 and r.sent < 32 * MB
    assert leftovers(node) == []
    still_serving(node)


def test_an_upload_cut_short_leaves_nothing(node: Devnet) -> None:
    boundary = "cut"
    body = multipart_head(boundary, "cut.onnx") + b"\x01" * MB  # no closing boundary
    r = httpx.post(node.url + "/api/models", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 422 and "closing boundary" in r.json()["detail"]
    assert leftovers(node) == []
    models = result(node, "og_models")
    assert models == []


@pytest.mark.parametrize("filename", ["..", ".", "../../etc/passwd", "a/b.onnx", "a\\b.onnx", "x\x00.onnx", "x\n.onnx",
                                      "m" * 300 + ".onnx", "é" * 200])  # fmt: skip
def test_odd_upload_file_names_get_422(node: Devnet, filename: str) -> None:
    boundary = "fn"
    body = multipart_head(boundary, "PLACEHOLDER").replace(b"PLACEHOLDER", filename.encode()) + b"\x01\x02" + f"\r\n--{boundary}--\r\n".encode()
    r = httpx.post(node.url + "/api/models", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 422, r.text
    assert "file name" in r.json()["detail"]
    assert leftovers(node) == []
    still_serving(node)


def test_upload_form_problems_get_4xx(node: Devnet) -> None:
    url = node.url + "/api/models"
    cases = [
        (httpx.post(url, content=b"x", headers={"content-type": "application/octet-stream"}), 415),
        (httpx.post(url, content=b"x", headers={"content-type": "multipart/form-data"}), 415),  # no boundary
        (httpx.post(url, data={"name": "only a name"}, files={"other": ("a.onnx", b"1")}), 422),
        (httpx.post(url, files={"file": ("a.onnx", b"1")}, data={"name": "n" * 101}), 422),
        (httpx.post(url, files={"file": ("a.onnx", b"1")}, data={"zkml": "perhaps"}), 422),
        (httpx.post(url, files={"file": ("empty.onnx", b"")}), 422),
        (httpx.post(url, files={"file": ("a.onnx", b"1")}, data={"name": "x" * 5000}), 422),
        (httpx.post(url, files=[("file", ("a.onnx", b"1")), ("file", ("b.onnx", b"2"))]), 422),
    ]
    for r, status in cases:
        assert r.status_code == status, r.text
        assert r.json()["detail"]
    assert leftovers(node) == []
    still_serving(node)


def test_the_cli_still_uploads(node: Devnet, tmp_path: Path) -> None:
    from conftest import og_devnet_command
    from og_devnet.inference.catalog import FIXTURES

    model = tmp_path / "cli.onnx"
    model.write_bytes((FIXTURES / "mlp.onnx").read_bytes() + b"\x32\x03cli")
    out = subprocess.run([og_devnet_command(), "models", "add", str(model), "--rpc-url", node.rpc_url],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "registered cli (onnx)" in out.stdout


# ---- a batch shares one budget ----


def test_a_batch_of_anvil_mine_is_capped_as_one_call_is(node: Devnet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dev, "MAX_MINE", 5)
    head = int(result(node, "eth_blockNumber"), 16)
    batch = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p}
             for i, (m, p) in enumerate([("anvil_mine", ["0x3"]), ("hardhat_mine", ["0x3"]), ("evm_mine", []), ("evm_mine", []),
                                         ("evm_mine", [])])]  # fmt: skip
    out = httpx.post(node.rpc_url, json=batch).json()
    assert "result" in out[0] and "result" in out[2] and "result" in out[3]
    for i in (1, 4):
        assert out[i]["error"]["code"] == -32005 and "blocks mined: at most 5 per request" in out[i]["error"]["message"]
    assert int(result(node, "eth_blockNumber"), 16) == head + 5
    # The next request has a budget of its own.
    assert "result" in rpc(node, "anvil_mine", ["0x5"])
    assert int(result(node, "eth_blockNumber"), 16) == head + 10
    many = httpx.post(node.rpc_url, json=[{"jsonrpc": "2.0", "id": i, "method": "evm_mine", "params": []} for i in range(1000)]).json()
    assert sum("result" in r for r in many) == 5 and int(result(node, "eth_blockNumber"), 16) == head + 15


def test_a_batch_of_registrations_shares_the_model_bytes(node: Devnet, monkeypatch: pytest.MonkeyPatch) -> None:
    from og_devnet.rpc import og

    monkeypatch.setattr(og, "MAX_MODEL_BYTES", 3000)
    junk = "0x" + "00" * 1000
    batch = [{"jsonrpc": "2.0", "id": i, "method": "og_registerModel", "params": [{"data": junk}]} for i in range(5)]
    out = httpx.post(node.rpc_url, json=batch).json()
    messages = [r["error"]["message"] for r in out]
    assert sum("not a usable" in m for m in messages) == 3
    assert sum("model bytes registered: at most 3000 per request" in m for m in messages) == 2


# ---- SSE replay does not starve JSON-RPC ----

READERS = textwrap.dedent("""
    import asyncio, sys
    flowing = 0
    async def reader(port, clients, done):
        global flowing
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /api/events?since=0 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
        await w.drain()
        seen, tail, counted = 0, b"", False
        while seen < done:
            data = await r.read(1 << 16)
            if not data:
                raise SystemExit("the stream ended early")
            data = tail + data  # a marker split between two reads counts once
            seen += data.count(b"\\nevent: ")
            tail = data[-7:]
            if seen >= 200 and not counted:
                counted, flowing = True, flowing + 1
                if flowing == clients:
                    print("flowing", flush=True)  # every client has had its first events
        w.close()
    async def main(port, clients, done):
        tasks = [asyncio.create_task(reader(port, clients, done)) for _ in range(clients)]
        print("started", flush=True)
        await asyncio.gather(*tasks)
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
""")



def test_sse_clients_replaying_the_ring_do_not_starve_json_rpc(node: Devnet) -> None:
    from og_devnet.events import RING_SIZE

    for i in range(RING_SIZE):  # a full ring of events of the usual size
        node.events.publish("inference", {"id": i, "tx_hash": "0x" + "ab" * 32, "mode": 2, "mode_name": "TEE", "status": "delivered",
                                          "model_id": "f" * 64, "winner_node": 1, "t_result": 1, "t_included": 2, "block_number": 3})  # fmt: skip
    clients = 200
    readers = subprocess.Popen([sys.executable, "-c", READERS, str(node.port), str(clients), str(RING_SIZE)],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert readers.stdout is not None and readers.stdout.readline().strip() == "started"
        served = 0
        with httpx.Client() as client:
            while readers.poll() is None and served < 300:
                r = client.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
                assert r.status_code == 200
                served += 1
        # All 300 were answered while the clients were replaying (how fast: bench/sse_replay.py).
        assert readers.poll() is None and served == 300
        # Their streams were served, not refused: events reach every client.
        assert select.select([readers.stdout], [], [], 60)[0] and readers.stdout.readline().strip() == "flowing"
    finally:
        readers.kill()
        readers.wait()


def test_event_streams_beyond_the_cap_get_503(node: Devnet, monkeypatch: pytest.MonkeyPatch) -> None:
    from og_devnet.api import events as events_api

    monkeypatch.setattr(events_api, "MAX_STREAMS", 2)
    url = node.url + "/api/events"
    with httpx.Client(timeout=10) as client:
        with client.stream("GET", url) as first, client.stream("GET", url) as second:
            assert first.status_code == second.status_code == 200
            refused = client.get(url)
            assert refused.status_code == 503 and "event streams are open" in refused.json()["detail"]
            assert refused.headers["retry-after"]
        # Once a client leaves, its place is free again (the node notices within a poll).
        deadline = time.monotonic() + 10
        while True:
            with client.stream("GET", url) as again:
                if again.status_code == 200:
                    break
                assert again.status_code == 503 and time.monotonic() < deadline
    still_serving(node)
