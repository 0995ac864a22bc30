"""torch as a runtime: programs saved with `torch.export.save` (.pt2) and TorchScript
(`torch.jit.save`, .pt).

Both are zip archives, and so is a module pickled with `torch.save`; they are told apart by the
names inside the archive, never by unpickling. A pickled module runs arbitrary code when loaded,
so it is refused with how to export it instead; programs load with `torch.export.load` and
`torch.jit.load`, which build graphs rather than Python objects. torch is imported only when a
torch model loads: it is an extra, never on the path of `og-devnet up`.
"""

from __future__ import annotations

import threading
import warnings
import zipfile
from pathlib import Path
from typing import Any

from og_devnet.inference.runtimes import InferenceError, input_arrays, output_tensors

TORCH_MISSING = "torch models need torch: pip install 'og-devnet[torch]'"
HOW_TO_EXPORT = (
    "save the model as a program instead: torch.export.save(torch.export.export(model, example_inputs), "
    "'model.pt2'), or torch.jit.save(torch.jit.script(model), 'model.pt')"
)
#: torch dtypes by the element-type names the chain and onnxruntime use.
_DTYPE_NAMES = {
    "float32": "float", "float64": "double", "float16": "float16", "int64": "int64", "int32": "int32",
    "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
}  # fmt: skip
#: The most entries a torch archive may have (a zip's own limit without zip64's counts).
MAX_ARCHIVE_ENTRIES = 65_534
#: torch's thread settings are process-wide: set once.
_threads_set = threading.Lock()


class PickledModelError(InferenceError):
    """A pickled torch object (a module or a state dict), which is never loaded."""


def torch_format(path: Path) -> str | None:
    """"export" (torch.export), "torchscript", "pickle" (torch.save of anything else), or None
    for a file that is no torch archive. Reads the zip's directory only."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:1] == b"\x80":  # a pickle (torch.save before zip archives, or pickle.dump)
        return "pickle"
    if head != b"PK\x03\x04" or not _few_entries(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n.split("/", 1)[-1] for n in archive.namelist()]
    except (zipfile.BadZipFile, OSError):
        return None
    if "archive_format" in names:
        return "export"
    if "constants.pkl" in names and any(n.startswith("code/") for n in names):
        return "torchscript"
    if "data.pkl" in names:
        return "pickle"
    return None


def _few_entries(path: Path) -> bool:
    """Whether the zip's end record (torch writes no archive comment, so it is the last 22
    bytes) counts few enough entries to list: a crafted directory of millions of entries
    would take gigabytes of memory to list, and torch archives hold one per tensor."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() < 22:
            return False
        f.seek(-22, 2)
        end = f.read(22)
    return end[:4] == b"PK\x05\x06" and int.from_bytes(end[10:12], "little") <= MAX_ARCHIVE_ENTRIES


def _dtype_name(dtype: Any) -> str:
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPE_NAMES:
        raise InferenceError(f"element type {name} is not supported")
    return _DTYPE_NAMES[name]


def _shape(value: Any) -> list[int]:
    """A placeholder's shape, -1 for a dimension the program leaves dynamic."""
    return [d if isinstance(d, int) else -1 for d in value.shape]


class TorchRuntime:
    kind = "torch"

    def __init__(self, path: Path, fmt: str, device: str = "cpu") -> None:
        try:
            import torch
        except ImportError:
            raise InferenceError(TORCH_MISSING) from None
        if fmt == "pickle":
            raise PickledModelError(f"a pickled torch object is never loaded (unpickling runs code); {HOW_TO_EXPORT}")
        with _threads_set:
            if torch.get_num_threads() != 1:
                torch.set_num_threads(1)  # nodes run side by side; one thread each, as onnxruntime
        self.torch = torch
        self.device, self.fallback = "cpu", None
        if device.startswith("cuda"):
            if torch.cuda.is_available() and int(device.split(":")[1]) < torch.cuda.device_count():
                self.device = device
            else:
                self.fallback = "torch sees no CUDA device (a CPU-only build, or no driver)"
        self.format = fmt
        try:
            if fmt == "export":
                self._load_program(path)
            else:
                self._load_torchscript(path)
        except InferenceError:
            raise
        except Exception as e:
            raise InferenceError(f"torch cannot load {path.name}: {e}") from e

    def _load_program(self, path: Path) -> None:
        from torch.export.graph_signature import InputKind, OutputKind

        program = self.torch.export.load(str(path))
        nodes = {n.name: n for n in program.graph.nodes}
        signature = program.graph_signature
        self.inputs = []
        for spec in signature.input_specs:
            if spec.kind != InputKind.USER_INPUT:
                continue
            value = nodes[spec.arg.name].meta.get("val")
            if value is None or not hasattr(value, "shape"):
                raise InferenceError(f"input {spec.arg.name} is not a tensor")
            self.inputs.append({"name": spec.arg.name, "dtype": _dtype_name(value.dtype), "shape": _shape(value)})
        output_node = next(n for n in program.graph.nodes if n.op == "output")
        values = [getattr(a, "meta", {}).get("val") for a in output_node.args[0]]
        self.outputs = []
        for spec, value in zip(signature.output_specs, values, strict=True):
            if spec.kind != OutputKind.USER_OUTPUT:
                continue
            if value is None or not hasattr(value, "shape"):
                raise InferenceError(f"output {spec.arg.name} is not a tensor")
            self.outputs.append({"name": spec.arg.name, "dtype": _dtype_name(value.dtype), "shape": _shape(value)})
        self.module = program.module().to(self.device)
        self.program = program

    def _load_torchscript(self, path: Path) -> None:
        # TorchScript keeps argument names but no shapes: inputs take any shape (the chain
        # checks only that the values fill it), in the dtype of the module's parameters.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice, on every load
            self.module = self.torch.jit.load(str(path), map_location=self.device).eval()
        schema = self.module.forward.schema
        params = [p.dtype for p in self.module.parameters() if p.is_floating_point()]
        dtype = _dtype_name(params[0] if params else self.torch.float32)
        self.inputs = [{"name": a.name, "dtype": dtype, "shape": [], "any_shape": True} for a in schema.arguments[1:]]
        returns = schema.returns[0].type
        count = len(returns.elements()) if hasattr(returns, "elements") else 1
        names = ["output"] if count == 1 else [f"output_{i}" for i in range(count)]
        self.outputs = [{"name": n, "dtype": dtype, "shape": [], "any_shape": True} for n in names]
        self.program = None

    def spec(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "outputs": self.outputs, "context_length": 0}

    def run(self, payload: dict[str, Any]) -> dict[str, Any]:
        return output_tensors(self.outputs, self.run_arrays(input_arrays(self.inputs, payload)))

    def run_arrays(self, feeds: dict[str, Any]) -> list[Any]:
        torch = self.torch
        try:
            with torch.inference_mode():
                result = self.module(*(torch.from_numpy(feeds[t["name"]]).to(self.device) for t in self.inputs))
        except Exception as e:
            raise InferenceError(f"torch: {e}") from e
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        if len(results) != len(self.outputs):
            raise InferenceError(f"torch: the program returned {len(results)} outputs, its signature names {len(self.outputs)}")
        return [r.detach().cpu().numpy() for r in results]

    def export_onnx(self, target: Path) -> None:
        """The program as ONNX (what ezkl compiles), traced at its input shapes: every
        dimension must be fixed, as a circuit is compiled for one shape."""
        torch = self.torch
        if self.program is None:
            raise InferenceError("TorchScript records no input shapes; save the model with torch.export for ZKML")
        if len(self.inputs) != 1 or any(d < 0 for d in self.inputs[0]["shape"]):
            raise InferenceError(f"needs one input of a fixed shape (this program's: {[t['shape'] for t in self.inputs]})")
        example = torch.zeros(self.inputs[0]["shape"], dtype=getattr(torch, _torch_dtype(self.inputs[0]["dtype"])))
        names = [t["name"] for t in self.outputs]
        program = self.program

        class Program(torch.nn.Module):
            """The program's module for the TorchScript-based exporter (it needs no onnxscript):
            a program's module is already in inference form and refuses the exporter's
            switch to eval mode, so the switch stops here."""

            def __init__(self) -> None:
                super().__init__()
                self.program = program.module()

            def train(self, mode: bool = True) -> Program:
                return self

            def forward(self, x: Any) -> Any:
                return self.program(x)

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notices about its own deprecation and tracing
            torch.onnx.export(Program(), (example,), str(target), input_names=[self.inputs[0]["name"]],
                              output_names=names, opset_version=17, dynamo=False)  # fmt: skip


def _torch_dtype(name: str) -> str:
    return next(k for k, v in _DTYPE_NAMES.items() if v == name)
