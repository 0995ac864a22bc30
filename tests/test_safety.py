"""Safe by default (issue 9 §1): only loopback and named hosts are served, web pages on other
origins cannot drive the node, CORS works for origins the user allowed, JSON-RPC wants real
JSON, and registering a model by path reads nothing outside --models-dir.
(Body limits, uploads, batch budgets and SSE replay: test_limits.py; the same guards in a real
browser: test_cross_origin_browser.py.)"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import rawhttp
from conftest import (
    DEV0,
    RECIPIENT,
    free_port,
    node_state,
    og_devnet_command,
    result,
    rpc,
    stop,
    wait_for_rpc,
)
from logcheck import no_errors_logged
from og_devnet import Devnet
from og_devnet._core import content_id
from og_devnet.inference.catalog import FIXTURES

MLP = FIXTURES / "mlp.onnx"


def onnx_variant(tag: bytes) -> bytes:
    """The fixture MLP with another doc_string (ModelProto field 6): a valid model with a
    content id of its own."""
    return MLP.read_bytes() + b"\x32" + bytes([len(tag)]) + tag


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("allowed-models")


@pytest.fixture(autouse=True)
def clean_log() -> Iterator[None]:
    """No refusal here may log an error or a traceback (uvicorn's WebSocket refusals included)."""
    with no_errors_logged():
        yield


@pytest.fixture(scope="module")
def node(models_dir: Path) -> Iterator[Devnet]:
    with Devnet(mining="manual", fixtures=False, zkml=False, models_dirs=[models_dir]) as n:
        yield n


def call(method: str, params: list[Any], id_: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}





# ---- hosts ----


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "app.localhost:{port}",
                                  "127.0.0.2:{port}", "[::1]:{port}", "localhost.:{port}"])  # fmt: skip
def test_loopback_host_names_are_served(node: Devnet, host: str) -> None:
    r = httpx.post(node.rpc_url, json=call("eth_chainId", []), headers={"host": host.format(port=node.port)})
    assert r.status_code == 200 and r.json()["result"] == "0x29f8"


@pytest.mark.parametrize("host", ["rebind.example", "rebind.example:{port}", "localhost.rebind.example", "10.0.0.1",
                                  "127.0.0.1.nip.io:{port}", "localhost:port", "[::1"])  # fmt: skip
def test_a_foreign_host_is_refused_naming_the_option(node: Devnet, host: str) -> None:
    before = node_state(node)
    for r in (
        httpx.post(node.rpc_url, json=call("anvil_setBalance", [RECIPIENT, "0x1"]), headers={"host": host.format(port=node.port)}),
        httpx.get(node.url + "/api/status", headers={"host": host.format(port=node.port)}),
        httpx.get(node.url + "/", headers={"host": host.format(port=node.port)}),
    ):
        assert r.status_code == 403, r.text
        assert "--allowed-host" in r.json()["detail"]
    assert node_state(node) == before


def test_allowed_host_option_serves_that_name() -> None:
    with Devnet(mining="manual", fixtures=False, zkml=False, allowed_hosts=["devnet.test"]) as n:
        ok = httpx.post(n.rpc_url, json=call("eth_chainId", []), headers={"host": f"devnet.test:{n.port}"})
        assert ok.status_code == 200 and ok.json()["result"] == "0x29f8"
        assert httpx.get(n.url + "/api/status", headers={"host": "other.test"}).status_code == 403


# ---- origins ----

STATE_CHANGING = [
    call("anvil_setBalance", [RECIPIENT, "0x1"]),
    call("anvil_setNonce", [DEV0.address, "0x7"]),
    call("eth_sendTransaction", [{"from": DEV0.address, "to": RECIPIENT, "value": hex(10**21)}]),
    call("og_setNodeFault", [1, "down"]),
    call("evm_mine", []),
    call("anvil_mine", ["0x3"]),
    call("evm_setIntervalMining", [1]),
    call("evm_setAutomine", [True]),
    call("og_registerModel", [{"data": "0x" + onnx_variant(b"origin-test").hex()}]),
]


def test_foreign_origins_are_refused_and_change_nothing(node: Devnet) -> None:
    before = node_state(node)
    foreign = ["http://127.0.0.1:1", f"http://127.0.0.1:{node.port + 1}", "http://evil.example", "null",
               f"https://127.0.0.1:{node.port}", "file://"]  # fmt: skip
    for origin in foreign:
        for body in STATE_CHANGING:
            r = httpx.post(node.rpc_url, json=body, headers={"origin": origin})
            assert r.status_code == 403, (origin, body["method"], r.text)
            assert "--allow-origin" in r.json()["detail"]
            assert "access-control-allow-origin" not in r.headers
        r = httpx.post(node.url + "/api/models", files={"file": ("m.onnx", onnx_variant(b"upload"))}, headers={"origin": origin})
        assert r.status_code == 403 and "--allow-origin" in r.json()["detail"]
        r = httpx.post(node.url + "/api/teach/samples", headers={"origin": origin})
        assert r.status_code == 403
        # Reading is refused too: a page cannot even learn the chain's state.
        assert httpx.get(node.url + "/api/status", headers={"origin": origin}).status_code == 403
    assert node_state(node) == before


def test_the_nodes_own_origin_is_served(node: Devnet) -> None:
    """The explorer calls from the node's own origin: under any name the node answers to."""
    for origin in (f"http://127.0.0.1:{node.port}", f"http://localhost:{node.port}", f"http://[::1]:{node.port}"):
        r = httpx.post(node.rpc_url, json=call("eth_chainId", []), headers={"origin": origin})
        assert r.status_code == 200 and r.json()["result"] == "0x29f8", origin
    # Same origin as the Host asked for (a port mapped by a proxy or a container).
    r = httpx.get(node.url + "/api/status", headers={"host": "localhost:9999", "origin": "http://localhost:9999"})
    assert r.status_code == 200


def test_preflight_from_a_foreign_origin_is_refused(node: Devnet) -> None:
    r = httpx.options(node.rpc_url, headers={"origin": "http://127.0.0.1:1", "access-control-request-method": "POST",
                                             "access-control-request-headers": "content-type"})  # fmt: skip
    assert r.status_code == 403 and "--allow-origin" in r.json()["detail"]
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])  # fmt: skip
def test_json_rpc_needs_application_json(node: Devnet, content_type: str | None) -> None:
    before = node_state(node)
    headers = {} if content_type is None else {"content-type": content_type}
    r = httpx.post(node.rpc_url, content=b'{"jsonrpc":"2.0","id":1,"method":"anvil_setBalance","params":["%s","0x1"]}'
                   % RECIPIENT.encode(), headers=headers)  # fmt: skip
    assert r.status_code == 415
    assert "Content-Type: application/json" in r.json()["detail"]
    assert node_state(node) == before
    r = httpx.post(node.rpc_url, content=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}',
                   headers={"content-type": "Application/JSON; charset=utf-8"})  # fmt: skip
    assert r.json()["result"] == "0x29f8"


def test_cors_for_an_allowed_origin() -> None:
    app_origin = "http://localhost:3000"
    with Devnet(mining="manual", fixtures=False, zkml=False, allow_origins=[app_origin + "/"]) as n:
        pre = httpx.options(n.rpc_url, headers={"origin": app_origin, "access-control-request-method": "POST",
                                                "access-control-request-headers": "content-type"})  # fmt: skip
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == app_origin
        assert "POST" in pre.headers["access-control-allow-methods"]
        assert "content-type" in pre.headers["access-control-allow-headers"].lower()
        assert "origin" in pre.headers["vary"].lower()
        assert int(pre.headers["access-control-max-age"]) > 0
        r = httpx.post(n.rpc_url, json=call("eth_chainId", []), headers={"origin": app_origin})
        assert r.json()["result"] == "0x29f8"
        assert r.headers["access-control-allow-origin"] == app_origin and "origin" in r.headers["vary"].lower()
        # Still JSON only, and other origins still refused.
        assert httpx.post(n.rpc_url, content=b"{}", headers={"origin": app_origin, "content-type": "text/plain"}).status_code == 415
        assert httpx.post(n.rpc_url, json=call("eth_chainId", []), headers={"origin": "http://localhost:3001"}).status_code == 403


def test_any_origin_is_allowed_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="og_devnet.exposure")
    with Devnet(mining="manual", fixtures=False, zkml=False, allow_origins=["*"]) as n:
        r = httpx.post(n.rpc_url, json=call("eth_chainId", []), headers={"origin": "http://anything.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://anything.example"
    assert any("--allow-origin *" in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize(("option", "value"), [("allow_origins", "localhost:3000"), ("allow_origins", "http://x.test/path"),
                                               ("allowed_hosts", "bad host:x")])  # fmt: skip
def test_a_malformed_option_stops_the_start(option: str, value: str) -> None:
    flag = "--allow-origin" if option == "allow_origins" else "--allowed-host"
    with pytest.raises(ValueError, match=flag):
        Devnet(mining="manual", fixtures=False, zkml=False, **{option: [value]}).start()


def test_up_warns_when_keys_are_reachable_from_the_network() -> None:
    port = free_port()
    proc = subprocess.Popen([og_devnet_command(), "up", "--host", "0.0.0.0", "--port", str(port), "--no-fixtures",
                             "--no-zkml", "--allow-origin", "*"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for_rpc(f"http://127.0.0.1:{port}/", proc)
    finally:
        out = stop(proc)
    assert "warning: listening on 0.0.0.0, not a loopback address" in out
    assert "anyone who can reach this port can spend them" in out
    assert "warning: --allow-origin *: every web page" in out
    assert out.count("every web page") == 1  # printed once, not also logged


# ---- WebSocket handshakes pass the same guards ----


def test_websocket_handshakes_are_guarded(node: Devnet) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{node.port}/"
    for origin in (None, f"http://localhost:{node.port}"):  # no browser; the explorer
        with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
            ws.send('{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}')
            assert '"result":"0x29f8"' in ws.recv(timeout=10)
    for origin in ("http://evil.example", "http://127.0.0.1:1", "null"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, origin=origin)  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
    r = rawhttp.request(node.port, "GET", "/", {"Host": "rebind.example", "Upgrade": "websocket", "Connection": "Upgrade",
                                                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"})  # fmt: skip
    assert r.status == 403


# ---- registering a model by path ----


def test_register_by_path_inside_the_models_dir(node: Devnet, models_dir: Path) -> None:
    inside = models_dir / "risk.onnx"
    inside.write_bytes(onnx_variant(b"inside"))
    info = result(node, "og_registerModel", [{"path": str(inside)}])
    assert info["name"] == "risk" and info["id"] == content_id(inside)
    # Through a path that leaves and re-enters the directory, and relative to it: the same file.
    again = result(node, "og_registerModel", [{"path": f"{models_dir}/../{models_dir.name}/risk.onnx", "name": "x"}])
    assert again["id"] == info["id"]


def test_refusals_by_path_say_nothing_about_the_path(node: Devnet, models_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.onnx"
    secret.write_bytes(onnx_variant(b"secret"))  # a valid model: registering it would show
    twin = tmp_path / "twin"
    twin.write_bytes(onnx_variant(b"secret"))
    secret_id = content_id(twin)  # its digest, without reading the secret itself
    outside_link = models_dir / "link.onnx"
    outside_link.symlink_to(secret)
    fifo_inside = models_dir / "fifo.onnx"
    os.mkfifo(fifo_inside)
    (models_dir / "sub").mkdir(exist_ok=True)
    before = node_state(node)
    atime = secret.stat().st_atime_ns

    def refusal(path: str) -> str:
        body = rpc(node, "og_registerModel", [{"path": path}])
        assert body["error"]["code"] == -32602, body
        message = body["error"]["message"]
        assert message.startswith(path) and "--models-dir" in message
        assert secret_id not in message
        return message.removeprefix(path)

    paths = [str(secret), str(tmp_path / "missing.onnx"), "/etc/shadow", "/proc/self/environ", "/proc/kmsg", "/dev/zero",
             str(outside_link), f"{models_dir}/../{tmp_path.name}/secret.onnx", str(models_dir / "missing.onnx"),
             str(fifo_inside), str(models_dir / "sub"), str(models_dir), "", "relative/secret.onnx", "a\0b"]  # fmt: skip
    messages = {refusal(p) for p in paths}
    assert len(messages) == 1, messages  # word for word the same, whatever the path is
    assert secret.stat().st_atime_ns == atime
    assert node_state(node) == before


def test_a_path_outside_is_never_opened(node: Devnet, tmp_path: Path) -> None:
    """A FIFO outside the models directory: a writer opening it blocks until some reader opens
    it, so the writer still waiting after the call proves the node never opened it."""
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    opened = threading.Event()

    def writer() -> None:
        with open(fifo, "wb"):
            opened.set()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    body = rpc(node, "og_registerModel", [{"path": str(fifo)}])
    assert "--models-dir" in body["error"]["message"]
    assert not opened.is_set() and t.is_alive()
    with open(fifo, "rb"):  # let the writer go
        pass
    t.join(5)
    assert opened.is_set()


def test_no_models_dir_means_no_path_at_all(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(onnx_variant(b"none"))
    with Devnet(mining="manual", fixtures=False, zkml=False) as n:
        body = rpc(n, "og_registerModel", [{"path": str(model)}])
        assert body["error"]["code"] == -32602 and "none are set" in body["error"]["message"]
        assert result(n, "og_models") == []


def test_register_by_bytes(node: Devnet) -> None:
    data = onnx_variant(b"bytes")
    info = result(node, "og_registerModel", [{"data": "0x" + data.hex(), "name": "sent"}])
    assert info["name"] == "sent" and info["kind"] == "onnx"
    junk = b"not a model at all"
    body = rpc(node, "og_registerModel", [{"data": "0x" + junk.hex()}])
    assert body["error"]["code"] == -32602 and "not a usable ONNX, GGUF or torch model" in body["error"]["message"]
    for bad in ({"data": "zz"}, {"data": "0x123"}, {"data": "0x"}, {"data": 5}, {"path": "/x", "data": "0x00"}, {}):
        body = rpc(node, "og_registerModel", [bad])
        assert body["error"]["code"] == -32602, bad


def test_errors_never_carry_a_digest_of_the_content(node: Devnet, models_dir: Path) -> None:
    for i, junk in enumerate((b"\x00" * 7, b"GGUF-but-not-really", b"secret=hunter2")):
        path = models_dir / f"junk{i}.onnx"
        path.write_bytes(junk)
        for body in (rpc(node, "og_registerModel", [{"path": str(path)}]),
                     rpc(node, "og_registerModel", [{"data": "0x" + junk.hex()}])):  # fmt: skip
            message = body["error"]["message"]
            assert "not a usable ONNX, GGUF or torch model" in message
            assert content_id(path) not in message, message
        r = httpx.post(node.url + "/api/models", files={"file": ("junk.onnx", junk)})
        assert r.status_code == 422 and content_id(path) not in r.text
    assert not [p for p in (node.state_dir / "models").iterdir() if p.name.startswith(".incoming-")]
