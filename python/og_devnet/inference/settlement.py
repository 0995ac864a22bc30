"""What follows a block's commit, off the block path: the winners of ZKML results prove
(in a worker process) and the full node verifies each proof; the watcher re-executes
OPTIMISTIC results and challenges a mismatch; the referee re-executes disputed ones. Every
outcome goes back to the chain, which records it in the next block."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from og_devnet._core import Mode
from og_devnet.inference.fixedpoint import from_fixed
from og_devnet.inference.runtimes import InferenceError, OnnxRuntime, input_arrays
from og_devnet.inference.torch_runtime import TorchRuntime

if TYPE_CHECKING:
    from og_devnet._core import Chain
    from og_devnet.events import EventLog
    from og_devnet.inference.catalog import ModelCatalog
    from og_devnet.inference.nodes import InferenceNode
    from og_devnet.inference.prover import ZkmlService

log = logging.getLogger("og_devnet.settlement")

#: The mode numbers deliveries and events carry.
ZKML, OPTIMISTIC = int(Mode.ZKML), int(Mode.OPTIMISTIC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def output_array(output: dict[str, Any]) -> np.ndarray:
    """A delivered output's numbers, flattened in order (what a ZKML proof's outputs are)."""
    values = [float(from_fixed(v, d)) for t in output.get("numbers", []) for v, d in t["values"]]
    return np.asarray(values, dtype=np.float64)


class SettlementDuties:
    def __init__(self, chain: Chain, catalog: ModelCatalog, nodes: list[InferenceNode], zkml: ZkmlService | None,
                 watch_rate: float, events: EventLog | None = None, seed: int = 0) -> None:  # fmt: skip
        self.events = events
        self.chain = chain
        self.catalog = catalog
        self.nodes = nodes
        self.zkml = zkml
        self.watch_rate = watch_rate
        self._rng = random.Random(seed)
        # Re-executions run here (onnxruntime releases the GIL); proofs in the prover process.
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="og-devnet-watcher")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self.stats = {"proofs": 0, "proof_failures": 0, "watched": 0, "challenges": 0, "referee_runs": 0}

    def after_commit(self, record: dict[str, Any]) -> None:
        """Called with each committed block's record."""
        for d in record.get("deliveries", []):
            if d["mode"] == ZKML:
                self._guarded(self._prove, d)
            elif d["mode"] == OPTIMISTIC and self._rng.random() < self.watch_rate:
                self._submit(self._watch, d)
        for st in record.get("settlements", []):
            if st["outcome"] == "disputed":
                self._submit(self._referee, st)

    def resume(self, saved: list[dict[str, Any]]) -> None:
        """After a restart: the duties still due for results delivered before it."""
        for d in saved:
            if d["mode"] == ZKML and d.get("verdict") is None:
                self._guarded(self._prove, d)
            elif d["mode"] == OPTIMISTIC and d.get("challenge") is None and self._rng.random() < self.watch_rate:
                self._submit(self._watch, d)
            elif d["mode"] == OPTIMISTIC and (c := d.get("challenge")) and c["disputed_block"] is not None and c["referee_output"] is None:
                self._submit(self._referee, d)

    def _submit(self, fn: Any, arg: dict[str, Any]) -> None:
        future = self._pool.submit(self._guarded, fn, arg)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    @staticmethod
    def _guarded(fn: Any, arg: dict[str, Any]) -> None:
        try:
            fn(arg)
        except Exception:  # a duty that fails must not take the node down
            log.exception("settlement duty %s failed for %s", fn.__name__, arg.get("id"))

    def idle(self) -> bool:
        """No duty in flight (tests and benchmarks wait for this)."""
        with self._lock:
            return not self._pending

    # ---- ZKML: the winner proves, the full node verifies ----
    def _prove(self, d: dict[str, Any]) -> None:
        node = self.nodes[d["node_index"]]
        if self.zkml is None or node.fault.kind == "down":
            return  # a node that is down never proves: the result is rejected at the deadline
        payload = json.loads(d["payload"])
        runtime = self.catalog.runtime(d["model_id"])
        assert isinstance(runtime, (OnnxRuntime, TorchRuntime))  # ZKML is set up for tensor models only
        model_input = next(iter(input_arrays(runtime.inputs, payload).values()))
        # The node proves what its circuit computes on the request's input: a node that
        # delivered something else cannot make the proof match its output.
        future = self.zkml.prove(d["model_id"], model_input)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(lambda f: self._guarded(self._verify, {**d, "future": f, "input": model_input}))
        future.add_done_callback(self._done)

    def _verify(self, d: dict[str, Any]) -> None:
        submitted = now_ms()
        try:
            proof = d["future"].result()
        except Exception as e:  # noqa: BLE001 - reported as the settlement's reason
            # The devnet's prover failed (an input outside the calibrated range, a worker
            # that died): the sender is refunded, and nobody is slashed for it.
            self.stats["proof_failures"] += 1
            self.chain.submit_proof(d["id"], "", submitted, f"unprovable: no proof could be made ({e})", node_at_fault=False)
            return
        assert self.zkml is not None
        rejection = self.zkml.verify(d["model_id"], proof, d["input"], output_array(json.loads(d["output"])))
        self.stats["proofs"] += 1
        reason = None if rejection is None else f"{rejection.reason}: {rejection.detail}"
        proof_json = json.dumps(proof)
        # Published first: the block that settles it may seal as soon as the chain has it.
        if self.events is not None:
            self.events.publish("proof_submitted", {"id": d["id"], "tx_hash": d["tx_hash"], "mode": ZKML, "t_ms": submitted,
                                                    "proof_bytes": len(proof_json)})  # fmt: skip
        self.chain.submit_proof(d["id"], proof_json, submitted, reason)

    # ---- OPTIMISTIC: the watcher re-executes, the referee decides ----
    def _execute(self, d: dict[str, Any]) -> str | None:
        """An honest re-execution; None if it could not run (then nobody can be judged)."""
        try:
            return json.dumps(self.catalog.runtime(d["model_id"]).run(json.loads(d["payload"])))
        except InferenceError:
            log.warning("re-execution of %s failed; abstaining", d["id"], exc_info=True)
            return None

    def _watch(self, d: dict[str, Any]) -> None:
        self.stats["watched"] += 1
        mine = self._execute(d)
        if mine is not None and json.loads(mine) != json.loads(d["output"]):
            self.stats["challenges"] += 1
            self.chain.challenge(d["id"], mine, now_ms())

    def _referee(self, st: dict[str, Any]) -> None:
        # The referee is the chain's own re-execution, independent of the watcher's.
        d = next((u for u in json.loads(self.chain.saved_deliveries_json()) if u["id"] == st["id"]), None)
        if d is None:
            return
        self.stats["referee_runs"] += 1
        verdict = self._execute(d)
        if verdict is not None:  # a referee that cannot run abstains: the dispute times out for the node
            self.chain.referee(d["id"], verdict)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
