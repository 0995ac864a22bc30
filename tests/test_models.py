"""Models registered by the CLI, by REST upload and by RPC; all usable at once; all still there
after a restart with --state. The torch export helper makes a model the devnet runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
from web3 import Web3

from conftest import DEV0, free_port, og_devnet_command, result, rpc, start_cli, stop
from og_devnet._core import encode_run_call
from og_devnet.inference.catalog import FIXTURE_MODELS
from og_devnet.inference.fixedpoint import model_input
from og_devnet.inference.torch_export import export_torch_module

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"


def make_model(path: Path, seed: int, width: int) -> Path:
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.Tanh(), torch.nn.Linear(width, 1))
    export_torch_module(model, torch.zeros(1, 3), path, input_name="features", output_name="score")
    return path


def infer(url: str, model_id: str, x: list[float]) -> float:
    w3 = Web3(Web3.HTTPProvider(url))
    numbers, _ = model_input({"features": [x]})
    data = "0x" + encode_run_call(model_id, 0, json.dumps(numbers), "[]").hex()
    tx = w3.eth.send_transaction({"from": DEV0.address, "to": HUB, "data": data})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1
    record = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "og_getInference", "params": [tx.to_0x_hex()]}).json()["result"]
    value, decimals = record["output"]["numbers"][0]["values"][0]
    return float(np.float32(int(value) / 10 ** int(decimals)))


def direct(path: Path, x: list[float]) -> float:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return float(sess.run(None, {"features": np.array([x], dtype=np.float32)})[0][0, 0])


def test_cli_rest_and_restart(tmp_path: Path) -> None:
    a = make_model(tmp_path / "risk.onnx", seed=1, width=5)
    b = make_model(tmp_path / "score.onnx", seed=2, width=7)
    state, port = tmp_path / "state", free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_cli("--block-time", "0.1", "--state", str(state), port=port)
    try:
        out = subprocess.run([og_devnet_command(), "models", "add", str(a), "--name", "risk", "--rpc-url", url],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        id_a = out.stdout.split(": ")[-1].strip()
        with b.open("rb") as f:
            r = httpx.post(url + "api/models", files={"file": ("score.onnx", f)}, data={"name": "score"})
        assert r.status_code == 201, r.text
        id_b = r.json()["id"]
        assert r.json()["inputs"] == [{"name": "features", "dtype": "float", "shape": [1, 3]}]
        listed = httpx.get(url + "api/models").json()
        assert {id_a, id_b} <= {m["id"] for m in listed}
        x = [0.5, -1.0, 2.0]
        assert infer(url, id_a, x) == pytest.approx(direct(a, x), rel=0, abs=0)
        assert infer(url, id_b, x) == pytest.approx(direct(b, x), rel=0, abs=0)
        listing = subprocess.run([og_devnet_command(), "models", "list", "--rpc-url", url], capture_output=True, text=True)
        assert "risk" in listing.stdout and "score" in listing.stdout
        # `og-devnet infer` by model name prints what onnxruntime computes.
        out = subprocess.run([og_devnet_command(), "infer", "risk", "--input", json.dumps({"features": [x]}), "--rpc-url", url],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        printed = json.loads(out.stdout[: out.stdout.rindex("}") + 1])
        assert np.float32(printed["score"]["values"][0]) == np.float32(direct(a, x))
        assert "VANILLA, status settled" in out.stdout
        bad = subprocess.run([og_devnet_command(), "infer", "risk", "--input", '{"features": [[1, 2]]}', "--rpc-url", url],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert bad.returncode == 1 and "has shape [1, 2], the model expects [1, 3]" in bad.stderr
    finally:
        stop(proc)
    # The files live content-addressed in the state directory.
    assert (state / "models" / f"{id_a}.onnx").exists() and (state / "models" / f"{id_b}.onnx").exists()
    proc = start_cli("--block-time", "0.1", "--state", str(state), port=port)
    try:
        names = {m["name"] for m in httpx.get(url + "api/models").json()}
        assert {"risk", "score", "mlp", "tiny-llama"} <= names
        assert infer(url, id_b, [1.0, 1.0, 1.0]) == direct(b, [1.0, 1.0, 1.0])
    finally:
        stop(proc)


def test_registration_errors(tmp_path: Path) -> None:
    from og_devnet import Devnet

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a model")
    with Devnet(mining="manual", models_dirs=[tmp_path]) as node:  # by path: only from here
        r = httpx.post(node.url + "/api/models", files={"file": ("junk.onnx", junk.read_bytes())})
        assert r.status_code == 422 and "not a usable ONNX, GGUF or torch model" in r.json()["detail"]
        r = httpx.post(node.url + "/api/models", files={"file": ("empty.onnx", b"")})
        assert r.status_code == 422 and "empty" in r.json()["detail"]
        assert httpx.get(node.url + "/api/models/nope").status_code == 404
        body = rpc(node, "og_registerModel", [{"path": str(tmp_path / "missing.onnx")}])
        assert body["error"]["code"] == -32602 and "--models-dir" in body["error"]["message"]
        body = rpc(node, "og_registerModel", [{"path": str(junk)}])
        assert body["error"]["code"] == -32602 and "not a usable" in body["error"]["message"]
        model = make_model(tmp_path / "ok.onnx", seed=3, width=2)
        info = result(node, "og_registerModel", [{"path": str(model), "name": "ok"}])
        assert info["name"] == "ok" and info["kind"] == "onnx"
        # The same file again is the same model (content id).
        assert result(node, "og_registerModel", [{"path": str(model)}])["id"] == info["id"]
        assert len(node.catalog.list()) == len(FIXTURE_MODELS) + 1  # the fixtures and "ok", once
        r = subprocess.run([og_devnet_command(), "models", "add", str(junk), "--rpc-url", node.rpc_url], capture_output=True, text=True)
        assert r.returncode == 1 and "not a usable" in r.stderr


def test_fixture_mlp_is_what_the_script_makes(tmp_path: Path) -> None:
    """The committed fixture is reproducible from its script (torch export, seeded)."""
    import importlib.util

    from og_devnet.inference.catalog import FIXTURES

    spec = importlib.util.spec_from_file_location("make_mlp_onnx", FIXTURES / "make_mlp_onnx.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.OUT = tmp_path / "mlp.onnx"
    module.main()
    assert module.OUT.read_bytes() == (FIXTURES / "mlp.onnx").read_bytes()
