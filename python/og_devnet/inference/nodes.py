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
from og_devnet.inference.runtimes import BadInputError, InferenceError
from og_devnet.inference.tee import Enclave, measurements

if TYPE_CHECKING:
    from og_devnet._core import Pipe
    from og_devnet.inference.catalog import ModelCatalog

#: What a byzantine node's enclave really runs: not the registered image, so its PCR0 differs.
TAMPERED_IMAGE = b"og-devnet enclave image v1 (modified)"

log = logging.getLogger("og_devnet.nodes")

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
                 delay_ms: float = 0.0, jitter_ms: float = 0.0, enclave: Enclave | None = None) -> None:  # fmt: skip
        self.index = index
        self.enclave = enclave
        self.address = address
        self.pipe = pipe
        self.catalog = catalog
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
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
                self._attempt(*work)
            except BaseException:  # a worker never dies (a Rust panic included): the attempt fails
                log.exception("node %d crashed on an attempt", self.index)
                self.pipe.complete(self.index, work[0], work[1], error="node crashed")

    def _attempt(self, job: str, attempt: int, payload_json: str) -> None:
        fault = self._fault
        if fault.kind == "down":
            return  # never answers: the scheduler times the attempt out
        if not self.pipe.is_wanted(job, attempt):
            self.pipe.complete(self.index, job, attempt, error="cancelled before it started")
            return
        payload = json.loads(payload_json)
        started = time.monotonic()
        output: dict[str, Any] | None = None
        error, bad_input = None, False
        try:
            output = self.catalog.runtime(payload["model_id"]).run(payload)
        except InferenceError as e:
            error, bad_input = str(e), isinstance(e, BadInputError)
        elapsed = time.monotonic() - started
        # Latency profile: network/queue delay plus jitter; a slow node takes FACTOR× as long.
        extra = (self.delay_ms + self._rng.uniform(0, self.jitter_ms)) / 1000
        if fault.kind == "slow":
            extra += elapsed * (fault.factor - 1) + 0.005 * fault.factor
        self._sleep(extra, job, attempt)
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

    def _sleep(self, seconds: float, job: str, attempt: int) -> None:
        """Waits, but gives up early once the race is decided (losers are cancelled)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._stop.wait(min(left, 0.05)) or not self.pipe.is_wanted(job, attempt):
                return
