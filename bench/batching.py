"""Dynamic batching on the inference nodes (issue 14): inferences per second for 64 concurrent
requests of a 256-wide MLP, with and without batching, through torch and through onnxruntime.

One in-process devnet per run (4 nodes, interval mining every 50 ms, ZKML off). The model: an
MLP of `--layers` 256-wide hidden layers (256 inputs, 10 outputs), registered as a torch.export
program (.pt2) and as ONNX, both with a dynamic batch dimension. Each round sends 64 VANILLA
inferences, signed beforehand, in one JSON-RPC batch (eth_sendRawTransaction), so they reach PIPE together, and waits
until PIPE has decided every one. Per run:

- PIPE throughput: 64 / (last result - first request), from the inference records' t_request
  and t_result: the inference nodes' part, which batching changes;
- end to end: 64 / (send to every job decided), the chain's admission of 64 transactions included;
- the rate requests entered PIPE (64 / first to last t_request): the chain admits each
  transaction (signature, pre-execution, the hub's checks) before PIPE sees its job, which caps
  PIPE throughput however fast the nodes are;
- the batches the nodes ran (og_nodes; hedged duplicates are attempts too).

The baseline is the same run with --batch-window-ms 0 (every job alone); the ratio is printed.
Also the model alone in this process, one row at a time vs 64 rows in one call; and the
devnet's floor, the same requests with a model that costs next to nothing (one 256x10 linear
layer, batching on): the ceiling of any batching through the devnet on this machine.

    python bench/batching.py [--rounds 20] [--layers 8] [--window-ms 1] [--runtime onnxruntime]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from eth_account import Account

from og_devnet import Devnet
from og_devnet._core import encode_run_call
from og_devnet.inference.fixedpoint import model_input

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
#: Dev account 0's key (the mnemonic's first, as anvil's).
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
CONCURRENT = 64
WIDTH = 256


def make_models(directory: Path, layers: int) -> tuple[Path, Path, object]:
    import torch

    torch.manual_seed(0)
    blocks: list[torch.nn.Module] = []
    for _ in range(layers):
        blocks += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU()]
    module = torch.nn.Sequential(*blocks, torch.nn.Linear(WIDTH, 10)).eval()
    example = torch.zeros(2, WIDTH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(torch.export.export(module, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},)), directory / "mlp.pt2")
        torch.onnx.export(module, (example,), str(directory / "mlp.onnx"), input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17, dynamo=False)  # fmt: skip
    return directory / "mlp.pt2", directory / "mlp.onnx", module


def rpc(url: str, method: str, *params: object) -> object:
    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=60).json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]


def run(path: Path, window_ms: float, rounds: int, device: str = "cpu") -> dict[str, Any]:
    with Devnet(nodes=4, block_time=0.05, batch_window_ms=window_ms, zkml=False, fixtures=False, device=device) as node:
        r = httpx.post(node.url + "/api/models", files={"file": (path.name, path.read_bytes())}, timeout=120)
        assert r.status_code == 201, r.text
        model = r.json()["id"]
        account = Account.from_key(KEY)
        nonce = int(rpc(node.rpc_url, "eth_getTransactionCount", account.address, "pending"), 16)  # type: ignore[arg-type]
        chain_id = int(rpc(node.rpc_url, "eth_chainId"), 16)  # type: ignore[arg-type]
        rng = np.random.default_rng(1)
        client = httpx.Client(timeout=120)
        pipe = node.chain.pipe()
        pipe_rates, e2e_rates, admission_rates = [], [], []
        for round_ in range(rounds + 2):  # the first two warm up (model, nodes' latency estimates)
            batch = []
            for i in range(CONCURRENT):
                numbers, _ = model_input({"input": rng.normal(size=(1, WIDTH)).astype(np.float32)})
                data = encode_run_call(model, 0, json.dumps(numbers), "[]")
                raw = account.sign_transaction({"to": HUB, "data": data, "gas": 2_000_000, "maxFeePerGas": 10**11,
                                                "maxPriorityFeePerGas": 10**9, "nonce": nonce, "chainId": chain_id})  # fmt: skip
                nonce += 1
                batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": ["0x" + raw.raw_transaction.hex()]})
            t0 = time.monotonic()
            hashes = [reply["result"] for reply in client.post(node.rpc_url, json=batch).json()]
            # Wait in PIPE itself (without the GIL): polling over HTTP would compete with the
            # nodes for the interpreter.
            for h in hashes:
                if not pipe.wait_decided(h, 60_000):
                    raise RuntimeError(f"{h} not decided in 60 s")
            e2e = time.monotonic() - t0
            records = client.post(node.rpc_url, json=[{"jsonrpc": "2.0", "id": i, "method": "og_getInference", "params": [h]}
                                                      for i, h in enumerate(hashes)]).json()  # fmt: skip
            records = [x["result"] for x in records]
            if any(x["output"] is None for x in records):
                raise RuntimeError(next(x["error"] for x in records if x["output"] is None))
            span = (max(x["t_result"] for x in records) - min(x["t_request"] for x in records)) / 1000
            if round_ >= 2:
                pipe_rates.append(CONCURRENT / max(span, 1e-3))
                e2e_rates.append(CONCURRENT / e2e)
                admission_rates.append(CONCURRENT / max(1e-3, (max(x["t_request"] for x in records) - min(x["t_request"] for x in records)) / 1000))
        nodes = rpc(node.rpc_url, "og_nodes")
        devices = nodes[0]["devices"]  # type: ignore[index]
        batches = sum(n["batches"] for n in nodes)  # type: ignore[union-attr]
        batched = sum(n["batched_jobs"] for n in nodes)  # type: ignore[union-attr]
    return {"pipe": float(np.median(pipe_rates)), "e2e": float(np.median(e2e_rates)), "admission": float(np.median(admission_rates)),
            "batches": batches, "batched": batched, "jobs": (rounds + 2) * CONCURRENT, "devices": devices}  # fmt: skip


def model_alone(pt2: Path, onnx: Path, device: str = "cpu") -> dict[str, tuple[float, float]]:
    """Rows per second in this process, one CPU thread: one row per call vs 64 rows in one
    call (on `device`: "cpu" or "cuda:N", where torch and onnxruntime can use it)."""
    import onnxruntime as ort
    import torch

    torch.set_num_threads(1)
    x = np.random.default_rng(2).normal(size=(CONCURRENT, WIDTH)).astype(np.float32)
    program = torch.export.load(str(pt2)).module().to(device)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    providers: list[Any] = ["CPUExecutionProvider"]
    if device != "cpu":
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": int(device.split(":")[1])}))
    session = ort.InferenceSession(str(onnx), options, providers=providers)
    calls = {"torch": lambda a: program(torch.from_numpy(a).to(device)).cpu(), "onnxruntime": lambda a: session.run(None, {"input": a})}
    out = {}
    with torch.inference_mode():
        for name, call in calls.items():
            for _ in range(20):
                call(x[:1])
                call(x)
            t0 = time.perf_counter()
            for _ in range(10):
                for i in range(CONCURRENT):
                    call(x[i : i + 1])
            single = 10 * CONCURRENT / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in range(50):
                call(x)
            out[name] = (single, 50 * CONCURRENT / (time.perf_counter() - t0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--window-ms", type=float, default=1.0, help="the batch window of the batched runs (the default's)")
    ap.add_argument("--runtime", choices=("torch", "onnxruntime"), action="append", help="only these (default: both)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"MLP {WIDTH} wide, {args.layers} hidden layers; {CONCURRENT} concurrent VANILLA requests x {args.rounds} rounds; 4 nodes")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        pt2, onnx, _ = make_models(Path(tmp), args.layers)
        alone = model_alone(pt2, onnx)
        print("the model alone, one thread (rows/s): one row per call vs 64 rows per call")
        for name, (single, batched) in alone.items():
            print(f"  {name:12} {single:9.0f} vs {batched:9.0f}  ({batched / single:.1f}x)")
        print(f"through the devnet (inferences/s, median of rounds): PIPE = first request to last result; e2e = send to all decided")
        # The physical limit of batching here: the same requests through the devnet with a model
        # that costs next to nothing (no hidden layer), so the devnet's own work per inference is
        # all that is left. No batching of the MLP can beat it.
        (Path(tmp) / "floor").mkdir()
        _, floor_onnx, _ = make_models(Path(tmp) / "floor", 0)
        floor = run(floor_onnx, args.window_ms, args.rounds)
        print(f"  {'floor':12} a {WIDTH}x10 linear layer through onnxruntime, batching on (the devnet's own work per inference): "
              f"PIPE {floor['pipe']:7.0f}/s  e2e {floor['e2e']:6.0f}/s  (requests entered PIPE at {floor['admission']:.0f}/s)")  # fmt: skip
        for name, path in (("torch", pt2), ("onnxruntime", onnx)):
            if args.runtime and name not in args.runtime:
                continue
            plain = run(path, 0.0, args.rounds)
            batched = run(path, args.window_ms, args.rounds)
            print(f"  {name:12} no batching: PIPE {plain['pipe']:7.0f}/s  e2e {plain['e2e']:6.0f}/s  "
                  f"(requests entered PIPE at {plain['admission']:.0f}/s)")  # fmt: skip
            print(f"  {name:12} batching ({args.window_ms:g} ms): PIPE {batched['pipe']:7.0f}/s  e2e {batched['e2e']:6.0f}/s  "
                  f"(requests entered PIPE at {batched['admission']:.0f}/s; {batched['batched']} attempts of {batched['jobs']} jobs "
                  f"in {batched['batches']} batches, {batched['batched'] / max(1, batched['batches']):.1f} per batch)")  # fmt: skip
            print(f"  {name:12} ratio batching / none: PIPE {batched['pipe'] / plain['pipe']:.2f}x (target >= 2), "
                  f"e2e {batched['e2e'] / plain['e2e']:.2f}x; the ceiling, floor / none: PIPE {floor['pipe'] / plain['pipe']:.2f}x, "
                  f"e2e {floor['e2e'] / plain['e2e']:.2f}x (a batched model that cost nothing)")  # fmt: skip


if __name__ == "__main__":
    main()
