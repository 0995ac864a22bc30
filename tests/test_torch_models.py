"""torch as a runtime: a torch.export program (.pt2) and a TorchScript module (.pt) register
through the CLI and REST, and the unmodified SDK gets exactly what torch computes, in VANILLA
and TEE; the same module exported to ONNX gives the same numbers through onnxruntime. Pickled
modules are refused without being loaded, and a node that never sees a torch model never
imports torch."""

from __future__ import annotations

import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import torch
from conftest import DEV_KEYS, og_devnet_command
from og_devnet import Devnet
from og_devnet.inference.torch_export import export_torch_module


class Scorer(torch.nn.Module):
    """A small two-layer model; TorchScript compiles it from this source."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(4, 8)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.out(torch.relu(self.hidden(features))))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("torch")
    torch.manual_seed(7)
    module = Scorer().eval()
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script's deprecation notice
        torch.export.save(torch.export.export(module, (torch.zeros(2, 4),), dynamic_shapes={"features": {0: batch}}), out / "scorer.pt2")
        torch.export.save(torch.export.export(module, (torch.zeros(1, 4),)), out / "fixed.pt2")
        torch.jit.save(torch.jit.script(module), out / "scorer-ts.pt")
        export_torch_module(module, torch.zeros(1, 4), out / "scorer.onnx", input_name="features", output_name="scores")
    torch.save(module, out / "pickled.pt")
    torch.save(module.state_dict(), out / "weights.pt")
    torch.save(module, out / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(module, out / "module.pt")  # the reference the test computes with, never given to the node
    return {p.name: p for p in out.iterdir()}


def reference(files: dict[str, Path], x: np.ndarray) -> np.ndarray:
    module = torch.load(files["module.pt"], weights_only=False)  # the test's own file
    with torch.inference_mode():
        return module(torch.from_numpy(x)).numpy()


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(block_time=0.1, zkml=False) as n:
        yield n


def models(node: Devnet) -> list[dict]:
    return httpx.get(node.url + "/api/models").json()


def add_by_cli(node: Devnet, path: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([og_devnet_command(), "models", "add", str(path), "--name", name, "--rpc-url", node.rpc_url],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_programs_register_by_cli_and_rest_and_the_sdk_gets_what_torch_gives(node: Devnet, files: dict[str, Path]) -> None:
    import opengradient as og

    cli = add_by_cli(node, files["scorer.pt2"], "scorer")
    assert cli.returncode == 0, cli.stderr
    program_id = cli.stdout.split(": ")[-1].strip()
    r = httpx.post(node.url + "/api/models", files={"file": ("scorer-ts.pt", files["scorer-ts.pt"].read_bytes())}, data={"name": "scorer-ts"})
    assert r.status_code == 201, r.text
    script = r.json()
    # The signatures, read from the programs: named inputs, the dynamic batch dimension; a
    # TorchScript module records names and no shapes.
    program = next(m for m in models(node) if m["id"] == program_id)
    assert (program["kind"], program["inputs"], program["outputs"]) == (
        "torch", [{"name": "features", "dtype": "float", "shape": [-1, 4]}], [{"name": "tanh", "dtype": "float", "shape": [-1, 3]}])  # fmt: skip
    assert (script["kind"], script["inputs"]) == ("torch", [{"name": "features", "dtype": "float", "shape": [], "any_shape": True}])
    assert program["modes"] == script["modes"] == ["VANILLA", "TEE", "OPTIMISTIC"]

    alpha = og.Alpha(private_key=DEV_KEYS[2], rpc_url=node.rpc_url)
    x = np.array([[0.25, -1.5, 3.0, 0.125]], dtype=np.float32)
    two = np.array([[1.0, 2.0, -0.5, 0.0], [0.3, 0.3, 0.3, -4.0]], dtype=np.float32)
    for model_id, output in ((program_id, "tanh"), (script["id"], "output")):
        for mode in (og.InferenceMode.VANILLA, og.InferenceMode.TEE):
            for given in (x, two):
                result = alpha.infer(model_cid=model_id, inference_mode=mode, model_input={"features": given})
                got = np.asarray(result.model_output[output], dtype=np.float32)
                np.testing.assert_array_equal(got, reference(files, given))
        record = node.inference("0x" + result.transaction_hash.removeprefix("0x"))
        assert record["mode_name"] == "TEE" and record["model_id"] == model_id

    # The same module exported to ONNX: the same numbers through onnxruntime, to float tolerance.
    session = ort.InferenceSession(str(files["scorer.onnx"]), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"features": x})[0], reference(files, x), rtol=1e-6, atol=1e-7)

    # Bad input is the chain's clear error, for a program as for ONNX.
    with pytest.raises(Exception, match=r"has shape \[1, 5\], the model expects \[-1, 4\]"):
        alpha.infer(model_cid=program_id, inference_mode=og.InferenceMode.VANILLA,
                    model_input={"features": np.zeros((1, 5), dtype=np.float32)}, max_retries=1)  # fmt: skip
    with pytest.raises(Exception, match="does not support ZKML"):
        alpha.infer(model_cid=script["id"], inference_mode=og.InferenceMode.ZKML, model_input={"features": x}, max_retries=1)


def test_zkml_is_offered_when_the_program_exports_to_onnx_and_says_why_not_otherwise(node: Devnet, files: dict[str, Path]) -> None:
    by_name = {}
    for name, file in (("fixed", "fixed.pt2"), ("scorer", "scorer.pt2"), ("scorer-ts", "scorer-ts.pt")):
        r = httpx.post(node.url + "/api/models", files={"file": (f"{name}.bin", files[file].read_bytes())}, data={"name": name})
        assert r.status_code == 201, r.text
        by_name[name] = r.json()
    assert by_name["fixed"]["zkml"] == "not enabled at registration (register the model with zkml=true)"
    assert by_name["scorer"]["zkml"].startswith("is unavailable: the program does not export to ONNX (needs one input of a fixed shape")
    assert "TorchScript records no input shapes" in by_name["scorer-ts"]["zkml"]
    # The export is kept beside the model, as ONNX, and computes what the program does.
    exported = node.catalog.dir / f"{by_name['fixed']['id']}.zkml.onnx"
    x = np.array([[0.5, 0.5, -1.0, 2.0]], dtype=np.float32)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"features": x})[0], reference(files, x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["pickled", "weights", "legacy"])
def test_pickled_torch_files_are_refused_without_being_loaded(node: Devnet, files: dict[str, Path], name: str) -> None:
    before = models(node)
    out = add_by_cli(node, files[f"{name}.pt"], name)
    assert out.returncode != 0
    assert "a pickled torch object is never loaded" in out.stderr and "torch.export.save(" in out.stderr, out.stderr
    r = httpx.post(node.url + "/api/models", files={"file": (f"{name}.pt", files[f"{name}.pt"].read_bytes())})
    assert r.status_code == 422 and "never loaded" in r.json()["detail"]
    assert models(node) == before


def test_a_node_without_torch_models_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from og_devnet import Devnet\n"
        "with Devnet(zkml=False) as d:\n"
        "    assert {m['kind'] for m in d.catalog.list()} == {'onnx', 'gguf'}\n"
        "    print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_a_zip_with_a_huge_directory_is_not_listed(tmp_path: Path) -> None:
    from og_devnet.inference.torch_runtime import torch_format

    # A zip whose end record claims 65,535 entries: refused from its last 22 bytes, never listed.
    crafted = tmp_path / "many.pt"
    crafted.write_bytes(b"PK\x03\x04" + b"\0" * 100 + b"PK\x05\x06" + b"\0" * 4 + (0xFFFF).to_bytes(2, "little") * 2 + b"\0" * 10)
    assert torch_format(crafted) is None


class Lookup(torch.nn.Module):
    """Integer token ids in: the signature says int64, and fractional inputs are refused."""

    def __init__(self) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(10, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table(ids).sum(dim=1)


def test_bad_torch_files_and_inputs_get_clear_errors(node: Devnet, tmp_path: Path) -> None:
    import opengradient as og

    before = models(node)
    # An archive that claims to be a program but is not one: refused, with torch's reason.
    broken = tmp_path / "broken.pt2"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("broken/archive_format", "pt2")
        z.writestr("broken/models/model.json", "{not json")
    r = httpx.post(node.url + "/api/models", files={"file": ("broken.pt2", broken.read_bytes())})
    assert r.status_code == 422 and "not a usable ONNX, GGUF or torch model (torch cannot load" in r.json()["detail"], r.text
    assert models(node) == before

    torch.manual_seed(1)
    lookup = Lookup().eval()
    ids = tmp_path / "lookup.pt2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(torch.export.export(lookup, (torch.zeros(1, 3, dtype=torch.int64),)), ids)
    r = httpx.post(node.url + "/api/models", files={"file": ("lookup.pt2", ids.read_bytes())})
    assert r.status_code == 201 and r.json()["inputs"] == [{"name": "ids", "dtype": "int64", "shape": [1, 3]}], r.text
    alpha = og.Alpha(private_key=DEV_KEYS[1], rpc_url=node.rpc_url)
    with pytest.raises(Exception, match=r"wrong dtype: input \"ids\" is int64, a fractional number was given"):
        alpha.infer(model_cid=r.json()["id"], inference_mode=og.InferenceMode.VANILLA,
                    model_input={"ids": np.array([[1.5, 2.0, 3.0]], dtype=np.float32)}, max_retries=1)  # fmt: skip
    result = alpha.infer(model_cid=r.json()["id"], inference_mode=og.InferenceMode.VANILLA,
                         model_input={"ids": np.array([[1, 2, 3]], dtype=np.int64)})  # fmt: skip
    assert list(result.model_output) == [o["name"] for o in r.json()["outputs"]]
    with torch.inference_mode():
        want = lookup(torch.tensor([[1, 2, 3]])).numpy()
    np.testing.assert_array_equal(np.asarray(next(iter(result.model_output.values())), dtype=np.float32), want)


def test_og_register_model_takes_a_program_as_bytes(node: Devnet, files: dict[str, Path]) -> None:
    data = "0x" + files["fixed.pt2"].read_bytes().hex()
    body = httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "og_registerModel",
                                          "params": [{"data": data, "name": "fixed-by-rpc"}]}, timeout=60).json()  # fmt: skip
    assert body["result"]["kind"] == "torch" and body["result"]["inputs"] == [{"name": "features", "dtype": "float", "shape": [1, 4]}], body
