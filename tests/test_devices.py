"""--device: parsed and checked at start, resolved against the NVIDIA driver's GPU list, and
each runtime's device (or its reason for the CPU) reported. This machine may have no GPU: a
fake driver directory stands in for one, and every runtime must then fall back with a reason
(or, where its library does see CUDA, run there)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from conftest import free_port, og_devnet_command
from og_devnet import Devnet
from og_devnet.inference.catalog import FIXTURES
from og_devnet.inference.devices import DeviceError, Devices, parse_device
from og_devnet.inference.runtimes import load_runtime


def fake_driver(tmp_path: Path, gpus: int) -> Path:
    root = tmp_path / "gpus"
    root.mkdir()
    for i in range(gpus):
        (root / f"0000:0{i}:00.0").mkdir()
    return root


def test_parse_device() -> None:
    assert [parse_device(t) for t in ("auto", "CPU", "cuda", "cuda:1", " cuda:0 ")] == ["auto", "cpu", "cuda:0", "cuda:1", "cuda:0"]
    for bad in ("tpu", "cuda:", "cuda:-1", "gpu", ""):
        with pytest.raises(ValueError, match="use auto, cpu, cuda or cuda:N"):
            parse_device(bad)


def test_resolution_against_the_drivers_gpu_list(tmp_path: Path) -> None:
    none = tmp_path / "absent"
    auto = Devices.resolve("auto", none)
    assert (auto.target, auto.reason) == ("cpu", "no NVIDIA GPU found (no driver under /proc/driver/nvidia)")
    assert Devices.resolve("cpu", none).target == "cpu"
    with pytest.raises(DeviceError, match="there is no CUDA device here"):
        Devices.resolve("cuda", none)
    two = fake_driver(tmp_path, 2)
    assert (Devices.resolve("auto", two).target, Devices.resolve("cuda:1", two).target) == ("cuda:0", "cuda:1")
    with pytest.raises(DeviceError, match="this machine has 2 CUDA device"):
        Devices.resolve("cuda:2", two)


def test_each_runtime_runs_on_cuda_or_says_why_not(tmp_path: Path) -> None:
    onnx = load_runtime(FIXTURES / "mlp.onnx", "cuda:0")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert (onnx.device, onnx.fallback) == ("cuda:0", None)
    else:
        assert (onnx.device, onnx.fallback) == ("cpu", "onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
    x = {"numbers": [{"name": "input", "values": [["1", "0"]] * 4, "shape": [1, 4]}]}
    assert onnx.run(x) == load_runtime(FIXTURES / "mlp.onnx", "cpu").run(x)

    import llama_cpp

    llm = load_runtime(FIXTURES / "tiny-llama.gguf", "cuda:0")
    if llama_cpp.llama_supports_gpu_offload():
        assert (llm.device, llm.fallback) == ("cuda:0", None)
    else:
        assert llm.device == "cpu" and "built without GPU offload" in (llm.fallback or "")

    import torch

    path = tmp_path / "m.pt2"
    module = torch.nn.Linear(4, 2).eval()
    torch.export.save(torch.export.export(module, (torch.zeros(1, 4),)), path)
    program = load_runtime(path, "cuda:0")
    if torch.cuda.is_available():
        assert (program.device, program.fallback) == ("cuda:0", None)
    else:
        assert (program.device, program.fallback) == ("cpu", "torch sees no CUDA device (a CPU-only build, or no driver)")
    with torch.inference_mode():
        expected = module(torch.ones(1, 4)).numpy()
    got = program.run(x)["numbers"][0]
    np.testing.assert_allclose(np.array([int(v) / 10 ** int(d) for v, d in got["values"]]).reshape(1, 2), expected, rtol=1e-6)


def test_the_node_reports_its_devices(tmp_path: Path) -> None:
    with Devnet(device="cpu", zkml=False) as node:
        devices = node.node_info()[0]["devices"]
        assert devices == {"requested": "cpu", "target": "cpu", "runtimes": {"gguf": {"device": "cpu"}, "onnx": {"device": "cpu"}}}


@pytest.mark.parametrize(("device", "message"), [("cuda:99", "--device cuda:99: "), ("tpu", "unknown device 'tpu'")])
def test_up_refuses_a_device_it_cannot_use(device: str, message: str) -> None:
    out = subprocess.run([og_devnet_command(), "up", "--port", str(free_port()), "--device", device],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2 and message in out.stderr, (out.returncode, out.stderr)
