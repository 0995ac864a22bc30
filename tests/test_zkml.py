"""Real ZKML proofs through ezkl for the fixture MLP: set up once, proved, verified with the
verifying key, settings and SRS only, and bound to the request and the delivered output."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from og_devnet.inference.catalog import FIXTURES
from og_devnet.inference.zkml import ZkmlCircuit, verify_proof

X = np.array([[0.25, -1.5, 3.0, 0.125]], dtype=np.float32)


@pytest.fixture(scope="module")
def circuit(tmp_path_factory: pytest.TempPathFactory) -> ZkmlCircuit:
    return ZkmlCircuit.setup(FIXTURES / "mlp.onnx", tmp_path_factory.mktemp("zk") / "mlp", X)


def onnx(x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(FIXTURES / "mlp.onnx")).run(None, {"input": x})[0]


def check(circuit: ZkmlCircuit, proof: dict, x: np.ndarray, y: np.ndarray):  # type: ignore[no-untyped-def]
    return verify_proof(proof, circuit.settings, circuit.vk, circuit.srs, x, y)


def test_prove_and_verify_without_the_model(circuit: ZkmlCircuit, tmp_path: Path) -> None:
    proof = circuit.prove(X)
    # The verifier gets only the settings, the verifying key and the SRS: no model, no pk.
    public = tmp_path / "public"
    public.mkdir()
    for f in (circuit.settings, circuit.vk, circuit.srs):
        (public / f.name).write_bytes(f.read_bytes())
    assert verify_proof(proof, public / "settings.json", public / "vk.key", public / "kzg.srs", X, onnx(X)) is None
    assert (circuit.directory / "SRS-NOTICE.txt").read_text().startswith("SRS generated locally")


def test_tampered_proofs_and_wrong_bindings_are_rejected(circuit: ZkmlCircuit) -> None:
    proof = circuit.prove(X)
    tampered = copy.deepcopy(proof)
    tampered["proof"][100] ^= 0x01  # one bit of the proof bytes
    tampered.pop("hex_proof", None)
    assert check(circuit, tampered, X, onnx(X)).reason == "bad_proof"
    assert check(circuit, proof, X, onnx(X) + 1.0).reason == "output_mismatch"
    assert check(circuit, proof, X * 2, onnx(X)).reason == "input_mismatch"
    assert check(circuit, {"proof": "0x"}, X, onnx(X)).reason == "malformed_proof"


def test_setup_is_cached(circuit: ZkmlCircuit) -> None:
    # Nothing is set up again: every file of the circuit is left as it was.
    before = {p: p.stat().st_mtime_ns for p in circuit.directory.rglob("*") if p.is_file()}
    again = ZkmlCircuit.setup(FIXTURES / "mlp.onnx", circuit.directory, X)
    assert again.is_ready()
    assert {p: p.stat().st_mtime_ns for p in circuit.directory.rglob("*") if p.is_file()} == before
