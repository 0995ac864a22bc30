"""Simulated inference nodes: one worker thread each, taking attempts from the PIPE
scheduler and answering them — honestly, slowly, never, sometimes, or wrongly, as their
fault mode says. Faults can be changed while the devnet runs."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from og_devnet._core import Mode, keccak256
from og_devnet.inference.runtimes import BadInputError, InferenceError, batchable, parse_job, run_batch
from og_devnet.inference.tee import Enclave, measurements

if TYPE_CHECKING:
    from og_devnet._core import Pipe
    from og_devnet.inference.catalog import ModelCatalog

#: What a byzantine node's enclave really runs: not the registered image, so its PCR0 differs.
TAMPERED_IMAGE = b"og-devnet enclave image v1 (modified)"

log = logging.getLogger("og_devnet.nodes")

#: The most jobs one batch holds.
MAX_BATCH = 64
#: What `Pipe.take` hands a node: job id, attempt index, the job's payload JSON.
WorkItem = tuple[str, int, str]

_FAULT = re.compile(r"^(ok|down|byzantine|slow(?::(?P<factor>\d+(?:\.\d+)?))?|flaky(?::(?P<p>0?\.\d+|1(?:\.0+)?|0))?)$")


@dataclass(frozen=True)
class Fault:
    """ok | slow:FACTOR | down | flaky:P | byzantine."""

    kind: str = "ok"
    factor: float = 1.0
    p: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Fault:
        m = _FAULT.match(text.strip().lower())
        if not m:
            raise ValueError(f"unknown fault {text!r}: use ok, slow:FACTOR, down, flaky:P or byzantine")
        kind = m.group(1).split(":")[0]
        if kind == "slow":
            return cls("slow", factor=float(m.group("factor") or 10))
        if kind == "flaky":
            return cls("flaky", p=float(m.group("p") or 0.5))
        return cls(kind)

    def __str__(self) -> str:
        return {"slow": f"slow:{self.factor:g}", "flaky": f"flaky:{self.p:g}"}.get(self.kind, self.kind)


def corrupt(output: dict[str, Any]) -> dict[str, Any]:
    """A byzantine answer: well-formed for the model's signature, but wrong."""
    out = json.loads(json.dumps(output))
    if out.get("numbers"):
        first = out["numbers"][0]["values"][0]
        first[0] = str(int(first[0]) + 10 ** int(first[1]))  # +1.0
    elif "answer" in out:
        out["answer"] += " (byzantine)"
    elif "message" in out:
        out["message"]["content"] += " (byzantine)"
    return out


class InferenceNode:
    """One simulated node: an index into the PIPE's nodes, a fault, a latency profile."""

    def __init__(self, index: int, address: str, pipe: Pipe, catalog: ModelCatalog, fault: Fault,
                 delay_ms: float = 0.0, jitter_ms: float = 0.0, enclave: Enclave | None = None,
                 batch_window_ms: float = 0.0) -> None:  # fmt: skip
        self.index = index
        self.enclave = enclave
        self.address = address
        self.pipe = pipe
        self.catalog = catalog
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        #: How long a node waits for more jobs of the same model and mode to run with the one
        #: it took (jobs already queued join at once); 0: every job runs alone.
        self.batch_window_ms = batch_window_ms
        #: Batches run, and the jobs they held (og_nodes).
        self.batches = 0
        self.batched_jobs = 0
        self._rng = random.Random(index)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"og-devnet-node-{index}", daemon=True)
        self.set_fault(fault)

    @property
    def fault(self) -> Fault:
        return self._fault

    def set_fault(self, fault: Fault) -> None:
        self._fault = fault
        self.pipe.set_fault(self.index, str(fault))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            work = self.pipe.take(self.index, 100)
            if work is None:
                continue
            try:
                groups = self._gather(work)
            except BaseException:  # a worker never dies: the attempt fails
                log.exception("node %d crashed taking attempts", self.index)
                self.pipe.complete(self.index, work[0], work[1], error="node crashed")
                continue
            for group in groups:
                try:
                    self._attempts(group)
                except BaseException:  # a worker never dies (a Rust panic included): the attempts fail
                    log.exception("node %d crashed on an attempt", self.index)
                    for (job, attempt, _), _payload in group:
                        self.pipe.complete(self.index, job, attempt, error="node crashed")

    def _batch_key(self, payload: dict[str, Any]) -> tuple[str, int] | None:
        """The (model, mode) a job may share a batch under, or None if it runs alone. Only
        VANILLA and TEE results are batched: OPTIMISTIC results are re-executed by the watcher
        and ZKML outputs proven one by one, and torch's kernels differ across batch sizes in
        the last bit (measured: up to 1.6e-7 on a 256-wide MLP), which a bit-for-bit check
        would take for fraud."""
        if payload.get("kind") != "model" or payload.get("mode") not in (Mode.VANILLA, Mode.TEE):
            return None
        try:
            runtime = self.catalog.runtime(payload["model_id"])
        except InferenceError:
            return None
        return (payload["model_id"], payload["mode"]) if batchable(runtime) else None

    def _gather(self, first: WorkItem) -> list[list[tuple[WorkItem, dict[str, Any]]]]:
        """The job taken, and the jobs that join it within the batch window, grouped: jobs of
        one batchable (model, mode) in one group, every other job alone."""
        payload = parse_job(first[2])  # a job's input can be thousands of numbers: decoded in Rust
        key = self._batch_key(payload) if self.batch_window_ms > 0 else None
        if key is None:
            return [[(first, payload)]]
        groups: dict[Any, list[tuple[WorkItem, dict[str, Any]]]] = {key: [(first, payload)]}
        deadline = time.monotonic() + self.batch_window_ms / 1000
        for i in range(1, MAX_BATCH):
            more = self.pipe.take(self.index, max(0, int((deadline - time.monotonic()) * 1000)))
            if more is None:
                break
            p = parse_job(more[2])
            groups.setdefault(self._batch_key(p) or i, []).append((more, p))
        return list(groups.values())

    def _attempts(self, group: list[tuple[WorkItem, dict[str, Any]]]) -> None:
        """Runs attempts of one model and mode, as one batch when there are several; each
        still gets its own answer, proof and completion."""
        fault = self._fault
        if fault.kind == "down":
            return  # never answers: the scheduler times the attempts out
        live = []
        for (job, attempt, payload_json), payload in group:
            if self.pipe.is_wanted(job, attempt):
                live.append((job, attempt, payload_json, payload))
            else:
                self.pipe.complete(self.index, job, attempt, error="cancelled before it started")
        if not live:
            return
        started = time.monotonic()
        answers = self._run([p for *_, p in live])
        elapsed = time.monotonic() - started
        # Latency profile: network/queue delay plus jitter; a slow node takes FACTOR× as long.
        extra = (self.delay_ms + self._rng.uniform(0, self.jitter_ms)) / 1000
        if fault.kind == "slow":
            extra += elapsed * (fault.factor - 1) + 0.005 * fault.factor
        self._sleep(extra, [(job, attempt) for job, attempt, *_ in live])
        for (job, attempt, payload_json, payload), (output, error, bad_input) in zip(live, answers, strict=True):
            if fault.kind == "flaky" and self._rng.random() < fault.p:
                output, error = None, "flaky node: lost the answer"
            if fault.kind == "byzantine" and output is not None:
                output = corrupt(output)
            out_json = None if output is None else json.dumps(output)
            proof = None
            if out_json is not None and payload.get("mode") == Mode.TEE and self.enclave is not None:
                proof = self._attest(payload_json, out_json, payload["model_id"], byzantine=fault.kind == "byzantine")
            self.pipe.complete(self.index, job, attempt, output=out_json, error=error,
                               bad_input=bad_input and fault.kind == "ok", proof=proof)  # fmt: skip

    def _run(self, payloads: list[dict[str, Any]]) -> list[tuple[dict[str, Any] | None, str | None, bool]]:
        """(output, error, bad input) per job: one batched call when the jobs stack, else one
        call each."""
        if len(payloads) > 1:
            try:
                outputs = run_batch(self.catalog.runtime(payloads[0]["model_id"]), payloads)
            except InferenceError:
                outputs = None  # one by one: each job gets the error
            if outputs is not None:
                self.batches += 1
                self.batched_jobs += len(payloads)
                return [(o, None, False) for o in outputs]
        answers: list[tuple[dict[str, Any] | None, str | None, bool]] = []
        for payload in payloads:
            try:
                answers.append((self.catalog.runtime(payload["model_id"]).run(payload), None, False))
            except InferenceError as e:
                answers.append((None, str(e), isinstance(e, BadInputError)))
        return answers

    def _attest(self, payload_json: str, out_json: str, model_id: str, byzantine: bool) -> str:
        """The enclave's evidence: its attestation document for this model (made once and
        reused for minutes: `Enclave.attestation`) and a fresh signature binding the request,
        the output and the time."""
        assert self.enclave is not None
        now = int(time.time() * 1000)
        request_hash, output_hash = keccak256(payload_json.encode()), keccak256(out_json.encode())
        image = TAMPERED_IMAGE if byzantine else None
        pcrs = measurements(model_id.encode(), image) if image else measurements(model_id.encode())
        return json.dumps({
            "attestation": self.enclave.attestation(pcrs, now).hex(),
            "response_signature": self.enclave.sign_response(request_hash, output_hash, now).hex(),
            "timestamp_ms": now, "request_hash": request_hash.hex(), "output_hash": output_hash.hex(),
        })  # fmt: skip

    def _sleep(self, seconds: float, attempts: list[tuple[str, int]]) -> None:
        """Waits, but gives up early once every race is decided (losers are cancelled)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._stop.wait(min(left, 0.05)) or not any(self.pipe.is_wanted(j, a) for j, a in attempts):
                return
