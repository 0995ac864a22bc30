"""Start-up (issue 13, item 3): JSON-RPC answers before the models, inference nodes, gateways
and store have finished starting; what needs them waits for them, with a timeout and a clear
error; client commands import only what a client needs. Timings: bench/startup.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
from conftest import free_port, og_devnet_command, wait_for_rpc
from og_devnet import Devnet
from og_devnet.node import NodeError

#: What a client command must not import: the node, the store, the settings, the runtimes,
#: the web framework.
SERVER_SIDE = ("og_devnet.node", "og_devnet.config", "og_devnet.store.chain_store", "sqlalchemy", "sqlmodel",
               "pydantic_settings", "onnxruntime", "llama_cpp", "ezkl", "torch", "fastapi", "uvicorn")  # fmt: skip


def call(url: str, method: str, params: list[Any] | None = None, timeout: float = 30) -> httpx.Response:
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=timeout)


def imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter has imported after running `code`."""
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


class Gate:
    """An injectable slow model loader: the node's on_model_loading hook, held until opened."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.reached = threading.Event()

    def __call__(self, index: int, total: int, name: str) -> None:
        self.reached.set()
        self.opened.wait(120)


def test_import_og_devnet_does_not_import_the_node() -> None:
    mods = imported_after("import og_devnet; og_devnet.HUB_ABI")
    assert not {m for m in SERVER_SIDE if m in mods}, mods & set(SERVER_SIDE)
    mods = imported_after("from og_devnet import Devnet; assert Devnet.__name__ == 'Devnet'")
    assert "og_devnet.node" in mods
    mods = imported_after("import og_devnet; assert og_devnet.__version__")
    assert "og_devnet.node" not in mods


def test_client_commands_import_only_what_a_client_needs() -> None:
    mods = imported_after("import og_devnet.cli")
    assert not {m for m in (*SERVER_SIDE, "httpx", "numpy") if m in mods}
    with Devnet(mining="auto", llm_gateways=0) as net:
        for argv in (["status"], ["nodes"], ["models", "list"], ["mine", "2"],
                     ["infer", "mlp", "--input", '{"input": [[1, 2, 3, 4]]}']):  # fmt: skip
            code = (f"from og_devnet.cli import app\ntry:\n    app({[*argv, '--rpc-url', net.rpc_url]!r})\n"
                    "except SystemExit as e:\n    assert not e.code, e.code")  # fmt: skip
            mods = imported_after(code)
            # pydantic too: validating the options through it (typer >= 0.29) costs ~0.1 s.
            assert not {m for m in (*SERVER_SIDE, "pydantic") if m in mods}, (argv, {m for m in (*SERVER_SIDE, "pydantic") if m in mods})


def test_client_command_names_an_unreachable_node() -> None:
    r = subprocess.run([og_devnet_command(), "status", "--rpc-url", f"http://127.0.0.1:{free_port()}/"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 1 and "cannot reach" in r.stderr and "is `og-devnet up` running?" in r.stderr


def test_json_rpc_answers_while_models_load_and_the_rest_waits_for_them() -> None:
    gate = Gate()
    net = Devnet(mining="auto", llm_gateways=0, on_model_loading=gate)
    try:
        net.start()
        assert gate.reached.wait(60)
        # The chain answers at once...
        r = call(net.rpc_url, "eth_blockNumber")
        assert r.status_code == 200 and r.json()["result"] == "0x0"
        assert call(net.rpc_url, "eth_chainId").json()["result"] == hex(net.chain.chain_id)
        batch = httpx.post(net.rpc_url, json=[{"jsonrpc": "2.0", "id": i, "method": m, "params": []}
                                              for i, m in enumerate(("net_version", "eth_accounts"))])  # fmt: skip
        assert batch.status_code == 200 and len(batch.json()) == 2
        # ...an inference (and anything needing the models) waits until they are loaded, then
        # gets its answer.
        answers: dict[str, Any] = {}

        def ask() -> None:
            answers["models"] = call(net.rpc_url, "og_models", timeout=120)
            answers["t"] = time.monotonic()

        asker = threading.Thread(target=ask)
        asker.start()
        time.sleep(0.3)
        assert "models" not in answers and not net.finished_starting(0)
        released = time.monotonic()
        gate.opened.set()
        asker.join(60)
        assert answers["models"].status_code == 200 and answers["t"] >= released
        assert {m["name"] for m in answers["models"].json()["result"]} >= {"mlp", "tiny-llama"}
        assert {m["name"] for m in net.catalog.list()} >= {"mlp", "tiny-llama"}
        mlp = next(m for m in net.catalog.list() if m["name"] == "mlp")
        assert net.catalog.runtime(mlp["id"]).kind == "onnx"
    finally:
        gate.opened.set()
        net.stop()


def test_in_process_attributes_wait_for_the_start() -> None:
    gate = Gate()
    with Devnet(mining="manual", llm_gateways=0, on_model_loading=gate) as net:
        assert gate.reached.wait(60)
        threading.Timer(0.3, gate.opened.set).start()
        t0 = time.monotonic()
        assert net.mine(1) == [1]  # waits for the start: the miner, the store, the settlement duties
        assert time.monotonic() - t0 >= 0.2
        assert len(net.nodes) == 4 and net.catalog.list()


def test_a_model_that_never_finishes_loading_gives_a_clear_timeout() -> None:
    gate = Gate()
    net = Devnet(mining="auto", llm_gateways=0, start_timeout=0.5, on_model_loading=gate)
    try:
        net.start()
        assert gate.reached.wait(60)
        assert call(net.rpc_url, "eth_blockNumber").json()["result"] == "0x0"
        r = call(net.rpc_url, "og_models")
        assert r.status_code == 503
        assert r.json()["detail"] == "the node is still starting after 0.5 s (loading models)"
        # Early answers only for programs asking a Host the node serves; a browser page (Origin)
        # or a foreign Host waits for the full app's guards.
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
        for headers in ({"Host": "evil.example"}, {"Origin": "http://evil.example"}):
            assert httpx.post(net.rpc_url, json=body, headers=headers).status_code == 503
        with pytest.raises(NodeError, match=r"still starting after 0\.5 s \(loading models\)"):
            net.catalog  # noqa: B018 - the attribute waits
    finally:
        gate.opened.set()
        net.stop()


def test_a_start_that_fails_in_the_background_is_reported() -> None:
    def broken(index: int, total: int, name: str) -> None:
        raise RuntimeError(f"cannot load {name}: disk on fire")

    net = Devnet(mining="auto", llm_gateways=0, on_model_loading=broken)
    net.start()
    assert net.finished_starting(60)
    r = call(net.rpc_url, "og_models")
    assert r.status_code == 503 and "the node failed to start: cannot load" in r.json()["detail"]
    with pytest.raises(NodeError, match="disk on fire"):
        net.stop()
    net.stop()  # already stopped: nothing more


def test_up_answers_before_the_start_is_complete_and_stops_on_ctrl_c_meanwhile() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([og_devnet_command(), "up", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for_rpc(url, proc)
        proc.send_signal(signal.SIGINT)  # at once: the models are most likely still loading
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "Shutting down" in out


@pytest.mark.parametrize("inputs", [
    {"input": [[1, 2, 3, 4]]}, {"input": [[1.5, 2, -3e-7, 4e20]]}, {"x": 3}, {"x": 2.5}, {"s": "hi"},
    {"a": [[1, 2], [3, 4]], "b": ["x", "y"]}, {"x": [0.1, 1 / 3, -0.0, 1e-320]}, {"x": [[[1.0]]]},
    {"x": [True, False]}, {"x": [1, "a"]}, {"x": [2**70]}, {"x": [1, 2**70, 0.5]},
])  # fmt: skip
def test_model_input_without_numpy_is_what_numpy_makes(inputs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """`og-devnet infer` builds its ModelInput without importing numpy (~50 ms) when the JSON is
    plain; the result is the numpy path's, bit for bit, and anything else goes that path."""
    from og_devnet.inference import fixedpoint

    def outcome() -> Any:
        try:
            return fixedpoint.model_input(inputs)
        except ValueError as e:
            return f"{type(e).__name__}: {e}"

    plain = outcome()
    monkeypatch.setattr(fixedpoint, "_plain_model_input", lambda _: None)
    assert plain == outcome()
