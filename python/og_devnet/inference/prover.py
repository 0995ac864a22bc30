"""ZKML work off the node's process: ezkl holds the GIL for the seconds a set-up or a proof
takes, which would stall block production, so both run in worker processes. Verification
(~50 ms, public material only) runs in the full node itself.

Circuits are cached twice: in the user cache (keyed by ezkl version and model id, so a new
state directory does not pay the ~15 s set-up again) and, linked from there, in the state
directory, which is what the node reads."""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from og_devnet.inference.zkml import ZkmlCircuit, ZkRejection, verify_proof

CIRCUIT_FILES = ("settings.json", "network.compiled", "pk.key", "vk.key", "kzg.srs", "SRS-NOTICE.txt")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ezkl prints calibration tables on stdout: keep the worker's terminal clean."""
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        for fd, old in zip((1, 2), saved, strict=True):
            os.dup2(old, fd)
            os.close(old)


def _setup_in_worker(model: str, directory: str, sample: list[float], shape: list[int]) -> None:
    # Another devnet may be setting up the same model in the same cache: one at a time.
    Path(directory).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{directory}.lock", "w") as lock, _quiet():
        fcntl.flock(lock, fcntl.LOCK_EX)
        ZkmlCircuit.setup(Path(model), Path(directory), np.asarray(sample).reshape(shape))


def _prove_in_worker(directory: str, model_input: list[float]) -> dict[str, Any]:
    with _quiet():
        return ZkmlCircuit(Path(directory)).prove(np.asarray(model_input))


def _exit_with_parent(parent: int) -> None:
    """A worker outlives a node killed with SIGKILL otherwise: it leaves when its parent goes."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _ready() -> bool:
    import ezkl  # noqa: F401 - loading ezkl is most of a worker's start-up

    return True


def calibration_sample(shape: list[int]) -> np.ndarray:
    """A fixed, wide sample for calibration: scales must fit inputs well beyond unit range."""
    dims = [d if d > 0 else 1 for d in shape]
    return np.random.default_rng(0).normal(0.0, 3.0, size=dims)


class ZkmlService:
    def __init__(self, state_dir: Path, cache_dir: Path | None, workers: int = 1) -> None:
        self.dir = state_dir / "zkml"
        self.cache = cache_dir / f"ezkl-{version('ezkl')}" if cache_dir is not None else None
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        # Started on first use: a devnet that never proves never pays for the workers.
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_exit_with_parent, initargs=(os.getpid(),))  # fmt: skip
        return self._pool

    def warm(self) -> None:
        """Starts the worker processes now rather than at the first proof."""
        for _ in range(self._workers):
            self._executor().submit(_ready)

    def circuit(self, model_id: str) -> ZkmlCircuit:
        return ZkmlCircuit(self.dir / model_id)

    def setup(self, model_id: str, model: Path, shape: list[int]) -> Future[None]:
        """Compiles and sets up `model`'s circuit (or reuses a cached one). The future fails
        with the reason when ezkl cannot compile the model."""
        done: Future[None] = Future()
        if self.circuit(model_id).is_ready():
            done.set_result(None)
            return done
        target = self.cache / model_id if self.cache is not None else self.dir / model_id
        if ZkmlCircuit(target).is_ready():
            self._link(target, model_id)
            done.set_result(None)
            return done
        sample = calibration_sample(shape)
        work = self._executor().submit(_setup_in_worker, str(model), str(target), sample.flatten().tolist(), list(sample.shape))

        def finished(f: Future[None]) -> None:
            try:
                f.result()
                if target != self.dir / model_id:
                    self._link(target, model_id)
                done.set_result(None)
            except BaseException as e:  # noqa: BLE001 - handed to the caller as the reason
                done.set_exception(e)

        work.add_done_callback(finished)
        return done

    def _link(self, source: Path, model_id: str) -> None:
        """Hard links from the cache (the keys are large), copies across file systems."""
        target = self.dir / model_id
        target.mkdir(parents=True, exist_ok=True)
        for name in CIRCUIT_FILES:
            src, dst = source / name, target / name
            if not src.exists() or dst.exists():
                continue
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)

    def prove(self, model_id: str, model_input: np.ndarray) -> Future[dict[str, Any]]:
        directory = self.circuit(model_id).directory
        args = (str(directory), np.asarray(model_input, dtype=np.float64).flatten().tolist())
        try:
            return self._executor().submit(_prove_in_worker, *args)
        except BrokenProcessPool:
            # A worker died (out of memory, killed): start afresh rather than fail every proof.
            self._pool = None
            return self._executor().submit(_prove_in_worker, *args)

    def verify(self, model_id: str, proof: dict[str, Any], request_input: np.ndarray, delivered_output: np.ndarray) -> ZkRejection | None:
        """The full node's check: verifying key, settings and SRS only."""
        c = self.circuit(model_id)
        if not c.is_ready():
            return ZkRejection("unknown_circuit", f"no ZKML circuit for model {model_id}")
        return verify_proof(proof, c.settings, c.vk, c.srs, request_input, delivered_output)

    def close(self) -> None:
        if self._pool is not None:
            # A proof in progress is not waited for: the node is stopping.
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for p in processes:
                p.terminate()
            self._pool = None
