"""The model catalog: files content-addressed by blake3 in the state directory, their
runtimes (loaded once), their rows in the store, and their specs registered in the chain."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from og_devnet._core import content_id
from og_devnet.inference.runtimes import InferenceError, LlamaRuntime, Runtime, load_runtime

if TYPE_CHECKING:
    from og_devnet._core import Chain
    from og_devnet.store import ChainStore

#: Modes a model supports in this version: ZKML needs a compiled circuit (not yet).
DEFAULT_MODES = [0, 2, 3]
MODE_NAMES = {0: "VANILLA", 1: "ZKML", 2: "TEE", 3: "OPTIMISTIC"}
#: Bigger uploads are refused (the demo LLM on PyPI is ~240 MB).
MAX_MODEL_BYTES = 2 * 1024**3

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIXTURE_MODELS = {"mlp.onnx": "mlp", "tiny-llama.gguf": "tiny-llama"}


class ModelError(ValueError):
    """A file that cannot be registered as a model."""


class ModelCatalog:
    def __init__(self, models_dir: Path, store: ChainStore, chain: Chain) -> None:
        self.dir = models_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.chain = chain
        self._runtimes: dict[str, Runtime] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def load_one(self, row: dict[str, Any]) -> dict[str, Any]:
        """Loads a model the store knows (after a restart)."""
        with self._lock:
            return self._activate(row["id"], row["name"], self.dir / row["filename"], row["registered_at"])

    @staticmethod
    def fixture_files() -> list[tuple[Path, str]]:
        return [(FIXTURES / f, n) for f, n in FIXTURE_MODELS.items()]

    def add_file(self, path: Path, name: str | None = None) -> dict[str, Any]:
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path} is not a file")
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"{path.name} is {size} bytes, over the limit of {MAX_MODEL_BYTES}")
        model_id = content_id(path)
        with self._lock:
            if model_id in self._info:
                return self._info[model_id]
            suffix = ".gguf" if path.open("rb").read(4) == b"GGUF" else ".onnx"
            stored = self.dir / f"{model_id}{suffix}"
            if not stored.exists():
                tmp = stored.with_suffix(".part")
                shutil.copyfile(path, tmp)
                tmp.replace(stored)
            name = name or path.name.rsplit(".", 1)[0]
            try:
                info = self._activate(model_id, name, stored, None)
            except ModelError:
                stored.unlink(missing_ok=True)
                raise
            self.store.save_model(info, stored.name)
            return info

    def add_bytes(self, data: bytes, filename: str, name: str | None = None) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / (Path(filename).name or "model")
            path.write_bytes(data)
            return self.add_file(path, name or path.name.rsplit(".", 1)[0])

    def _activate(self, model_id: str, name: str, path: Path, registered_at: float | None) -> dict[str, Any]:
        import time

        try:
            runtime = load_runtime(path)
        except InferenceError as e:
            raise ModelError(f"{name}: not a usable ONNX or GGUF model ({e})") from e
        spec = {"id": model_id, "name": name, "kind": runtime.kind, "modes": DEFAULT_MODES, **runtime.spec()}
        self.chain.register_model(json.dumps(spec))
        info = {
            **spec,
            "modes": [MODE_NAMES[m] for m in DEFAULT_MODES],
            "zkml": "not available in this version",
            "size": path.stat().st_size,
            "registered_at": registered_at or time.time(),
        }
        self._runtimes[model_id] = runtime
        self._info[model_id] = info
        return info

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
