"""ZKML through ezkl: a model's circuit is compiled and set up once (settings, calibration,
compiled circuit, proving and verifying keys, and a locally generated SRS that is for
development only), cached by model id. A node proves after it has answered; the full node
verifies with the verifying key, the settings and the SRS only — never the model — and checks
that the proof's public inputs and outputs are the request's input and the delivered output.

Measured on this machine's kind for the 4→8→2 fixture MLP: setup ~10-17 s, prove ~4-8 s,
verify ~0.05 s, proving key ~138 MB."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Input and output are public instances of the proof; weights are fixed in the circuit.
VISIBILITY = {"input_visibility": "public", "output_visibility": "public", "param_visibility": "fixed"}
SRS_NOTICE = "SRS generated locally with ezkl.gen_srs: for development only, not a trusted setup."


class ZkmlError(Exception):
    """A model ezkl cannot compile, or a proof that cannot be made."""


@dataclass(frozen=True)
class ZkRejection:
    reason: str  # malformed_proof, bad_proof, input_mismatch, output_mismatch
    detail: str


def _ezkl() -> Any:
    import ezkl

    return ezkl


_setup_lock = threading.Lock()


@dataclass
class ZkmlCircuit:
    directory: Path

    @property
    def settings(self) -> Path:
        return self.directory / "settings.json"

    @property
    def compiled(self) -> Path:
        return self.directory / "network.compiled"

    @property
    def pk(self) -> Path:
        return self.directory / "pk.key"

    @property
    def vk(self) -> Path:
        return self.directory / "vk.key"

    @property
    def srs(self) -> Path:
        return self.directory / "kzg.srs"

    def is_ready(self) -> bool:
        return all(p.exists() for p in (self.settings, self.compiled, self.pk, self.vk, self.srs))

    @classmethod
    def setup(cls, model: Path, directory: Path, sample_input: np.ndarray) -> ZkmlCircuit:
        """Compiles and sets up the circuit of `model` in `directory`, or reuses it if there."""
        final = cls(directory)
        with _setup_lock:
            if final.is_ready():
                return final
            # Built aside and renamed into place: a set-up killed halfway (a node stopped
            # mid-way) must never leave a directory that looks ready.
            partial = directory.with_name(directory.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            circuit = cls(partial)
            ezkl = _ezkl()
            args = ezkl.PyRunArgs()
            for k, v in VISIBILITY.items():
                setattr(args, k, v)
            data = partial / "calibration.json"
            data.write_text(json.dumps({"input_data": [np.asarray(sample_input, dtype=np.float64).flatten().tolist()]}))
            try:
                ok = (ezkl.gen_settings(str(model), str(circuit.settings), py_run_args=args)
                      and ezkl.calibrate_settings(str(data), str(model), str(circuit.settings), "resources")
                      and ezkl.compile_circuit(str(model), str(circuit.compiled), str(circuit.settings)))  # fmt: skip
                if not ok:
                    raise ZkmlError(f"ezkl could not compile {model.name}")
                logrows = json.loads(circuit.settings.read_text())["run_args"]["logrows"]
                ezkl.gen_srs(str(circuit.srs), logrows)
                (partial / "SRS-NOTICE.txt").write_text(SRS_NOTICE + "\n")
                if not ezkl.setup(str(circuit.compiled), str(circuit.vk), str(circuit.pk), str(circuit.srs)):
                    raise ZkmlError(f"ezkl setup failed for {model.name}")
            except ZkmlError:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            except Exception as e:  # ezkl raises RuntimeError/ValueError for unsupported ops
                shutil.rmtree(partial, ignore_errors=True)
                raise ZkmlError(f"ezkl cannot compile {model.name}: {e}") from e
            shutil.rmtree(directory, ignore_errors=True)
            os.replace(partial, directory)
        return final

    @property
    def scales(self) -> tuple[int, int]:
        run_args = json.loads(self.settings.read_text())["run_args"]
        return run_args["input_scale"], run_args.get("output_scale", run_args["input_scale"])

    def prove(self, model_input: np.ndarray) -> dict[str, Any]:
        """A proof that the circuit maps `model_input` to its output (public instances)."""
        ezkl = _ezkl()
        with tempfile.TemporaryDirectory() as d:
            data, witness, proof = Path(d) / "input.json", Path(d) / "witness.json", Path(d) / "proof.json"
            data.write_text(json.dumps({"input_data": [np.asarray(model_input, dtype=np.float64).flatten().tolist()]}))
            try:
                ezkl.gen_witness(str(data), str(self.compiled), str(witness), str(self.vk), str(self.srs))
                ezkl.prove(str(witness), str(self.compiled), str(self.pk), str(proof), str(self.srs))
            except Exception as e:
                raise ZkmlError(f"proving failed: {e}") from e
            return json.loads(proof.read_text())


def verify_proof(proof: dict[str, Any], settings: Path, vk: Path, srs: Path, request_input: np.ndarray,
                 delivered_output: np.ndarray, tolerance: float = 1e-2) -> ZkRejection | None:  # fmt: skip
    """The full node's check, with public material only. None when the proof holds."""
    ezkl = _ezkl()
    run_args = json.loads(settings.read_text())["run_args"]
    in_scale = run_args["input_scale"]
    out_scale = run_args.get("output_scale", in_scale)
    try:
        instances = proof["instances"][0]
    except (KeyError, IndexError, TypeError):
        return ZkRejection("malformed_proof", "the proof has no public instances")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "proof.json"
        path.write_text(json.dumps(proof))
        try:
            ok = ezkl.verify(str(path), str(settings), str(vk), str(srs))
        except Exception as e:
            return ZkRejection("bad_proof", f"ezkl rejects the proof: {e}")
    if not ok:
        return ZkRejection("bad_proof", "ezkl rejects the proof")
    x = np.asarray(request_input, dtype=np.float64).flatten()
    y = np.asarray(delivered_output, dtype=np.float64).flatten()
    if len(instances) != len(x) + len(y):
        return ZkRejection("output_mismatch", f"the proof has {len(instances)} public values, the request and output {len(x) + len(y)}")
    proven_in = np.array([ezkl.felt_to_float(f, in_scale) for f in instances[: len(x)]])
    proven_out = np.array([ezkl.felt_to_float(f, out_scale) for f in instances[len(x):]])
    quantised = np.round(x * 2**in_scale) / 2**in_scale
    if not np.array_equal(proven_in, quantised):
        return ZkRejection("input_mismatch", "the proof is for another input")
    if not np.allclose(proven_out, y, atol=tolerance, rtol=tolerance):
        return ZkRejection("output_mismatch", f"proven output {proven_out.tolist()} is not the delivered {y.tolist()}")
    return None
