"""Proofs apart from results, measured in one run:

(a) attestation verifications per second: the Rust verifier with its attestation cache and
    in full vs a Python reference doing the same checks (cbor2 + cryptography), and their
    ratios (bench/attestation_verify.py);
(b) ZKML on the fixture MLP: prove time vs verify time (ezkl, in this process);
(c) trust gap (t_settled - t_result) and result latency (t_result - t_request) p50/p95 per
    mode, under a mixed load of inferences sent at once to a devnet with --block-time 0.5
    (OPTIMISTIC uses the default challenge window of 20 blocks, ZKML proofs queue for
    --provers worker processes).

    python bench/proofs.py [--count 2000] [--proofs 3] [--load 200] [--provers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import attestation_verify  # noqa: E402

from og_devnet import Devnet  # noqa: E402
from og_devnet._core import encode_run_call  # noqa: E402
from og_devnet.inference.catalog import FIXTURES  # noqa: E402
from og_devnet.inference.fixedpoint import model_input  # noqa: E402
from og_devnet.inference.prover import ZkmlService, calibration_sample  # noqa: E402

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
NAMES = {0: "VANILLA", 3: "OPTIMISTIC", 2: "TEE", 1: "ZKML"}
#: The mixed load: shares of each mode (cheap and fast ones dominate, as in practice).
MIX = {0: 0.30, 3: 0.25, 2: 0.30, 1: 0.15}


def rpc(url: str, method: str, params: list) -> object:
    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60).json()
    if "error" in r:
        raise RuntimeError(f"{method}: {r['error']}")
    return r["result"]


def zkml_prove_vs_verify(proofs: int, tmp: Path) -> None:
    import onnxruntime as ort

    svc = ZkmlService(tmp, Path.home() / ".cache" / "og-devnet" / "zkml")
    model_id = "f1dd2d06f6f5bd83787a6d4ab1f4a4c3e7930657811d382d2a1545e1049d7f9e"
    t0 = time.perf_counter()
    svc.setup(model_id, FIXTURES / "mlp.onnx", [1, 4]).result()
    setup_s = time.perf_counter() - t0
    circuit = svc.circuit(model_id)
    session = ort.InferenceSession(str(FIXTURES / "mlp.onnx"))
    prove_s, verify_s = [], []
    for i in range(proofs):
        x = calibration_sample([1, 4]).astype(np.float32) / (i + 1)
        y = session.run(None, {"input": x})[0]
        t0 = time.perf_counter()
        proof = circuit.prove(x)
        prove_s.append(time.perf_counter() - t0)
        for _ in range(5):
            t0 = time.perf_counter()
            assert svc.verify(model_id, proof, x, y) is None
            verify_s.append(time.perf_counter() - t0)
    svc.close()
    size = len(json.dumps(proof))
    print(f"ZKML (ezkl, fixture MLP 4->8->2, logrows {json.loads(circuit.settings.read_text())['run_args']['logrows']}): "
          f"setup {setup_s:.1f} s (0 if cached), pk {circuit.pk.stat().st_size / 1e6:.0f} MB, proof JSON {size / 1e3:.0f} kB")  # fmt: skip
    p, v = float(np.mean(prove_s)), float(np.mean(verify_s))
    print(f"  prove  mean {p * 1000:8.0f} ms over {len(prove_s)}")
    print(f"  verify mean {v * 1000:8.1f} ms over {len(verify_s)}  (verifying key, settings and SRS only)")
    print(f"  ratio prove/verify: {p / v:.0f}x")


def mixed_load(load: int, provers: int) -> None:
    with Devnet(block_time=0.5, provers=provers) as node:
        url = node.rpc_url
        mlp = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
        assert node.catalog.zkml_ready(mlp, timeout=600), node.catalog.get(mlp)["zkml"]
        senders = rpc(url, "eth_accounts", [])
        rng = np.random.default_rng(2)
        modes = [m for m, share in MIX.items() for _ in range(round(share * load))][:load]
        rng.shuffle(modes)
        batch = []
        for i, mode in enumerate(modes):
            numbers, _ = model_input({"input": rng.normal(size=(1, 4)).astype(np.float32)})
            data = "0x" + encode_run_call(mlp, int(mode), json.dumps(numbers), "[]").hex()
            batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
                          "params": [{"from": senders[i % len(senders)], "to": HUB, "data": data, "gas": hex(300_000)}]})  # fmt: skip
        t0 = time.monotonic()
        hashes = [r["result"] for r in httpx.post(url, json=batch, timeout=120).json()]
        final = {}
        while len(final) < len(hashes):
            for h in hashes:
                if h not in final:
                    rec = node.store.inference(h)
                    if rec is not None and rec["status"] in ("settled", "rejected", "slashed", "failed"):
                        final[h] = rec
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
    print(f"mixed load: {load} inferences sent at once, block time 0.5 s, 4 nodes, {provers} prover process(es); "
          f"all final after {elapsed:.1f} s")  # fmt: skip
    print(f"  {'mode':<11} {'n':>4} {'settled':>8} {'latency p50':>12} {'p95':>8} {'trust gap p50':>14} {'p95':>8}  (ms)")
    for mode in (0, 3, 2, 1):
        recs = [r for r in final.values() if r["mode"] == mode]
        lat = np.array([r["t_result"] - r["t_request"] for r in recs])
        gap = np.array([r["trust_gap_ms"] for r in recs if r.get("trust_gap_ms") is not None])
        settled = sum(r["status"] == "settled" for r in recs)
        print(f"  {NAMES[mode]:<11} {len(recs):>4} {settled:>8} {np.percentile(lat, 50):>12.0f} {np.percentile(lat, 95):>8.0f} "
              f"{np.percentile(gap, 50):>14.0f} {np.percentile(gap, 95):>8.0f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--count", type=int, default=2000, help="(a) attestation verifications per verifier")
    ap.add_argument("--proofs", type=int, default=3, help="(b) ZKML proofs to time")
    ap.add_argument("--load", type=int, default=200, help="(c) inferences in the mixed load")
    ap.add_argument("--provers", type=int, default=2, help="(c) ZKML prover processes")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n")
    print("(a) attestation verification")
    attestation_verify.run(args.count)
    print("\n(b) ZKML prove vs verify")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        zkml_prove_vs_verify(args.proofs, Path(d))
    print("\n(c) trust gap per mode")
    mixed_load(args.load, args.provers)


if __name__ == "__main__":
    main()
