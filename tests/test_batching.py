"""Dynamic batching on the inference nodes: VANILLA and TEE jobs of one model that reach a node
together run as one batch, and each still gets its own result, record and proof; OPTIMISTIC
jobs never share a batch; a window of 0 turns batching off."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

from og_devnet import Devnet
from og_devnet._core import Mode, encode_run_call
from og_devnet.inference.fixedpoint import model_input

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(3)
    module = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)).eval()
    path = tmp_path_factory.mktemp("batching") / "mlp.pt2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(torch.export.export(module, (torch.zeros(2, 4),), dynamic_shapes=({0: torch.export.Dim("batch")},)), path)
    return path, module


def rpc(node: Devnet, method: str, *params: object) -> object:
    body = httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=60).json()
    assert "error" not in body, body
    return body["result"]


def register(node: Devnet, path: Path) -> str:
    r = httpx.post(node.url + "/api/models", files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def send_together(node: Devnet, model: str, mode: int, xs: list[np.ndarray]) -> list[str]:
    """One JSON-RPC batch of inference transactions: with interval mining they land in one
    block, and PIPE hands them out together."""
    sender = rpc(node, "eth_accounts")[0]  # type: ignore[index]
    batch = []
    for i, x in enumerate(xs):
        numbers, _ = model_input({"input": x})
        data = "0x" + encode_run_call(model, mode, json.dumps(numbers), "[]").hex()
        batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
                      "params": [{"from": sender, "to": HUB, "data": data, "gas": hex(500_000)}]})  # fmt: skip
    replies = httpx.post(node.rpc_url, json=batch, timeout=60).json()
    assert all("result" in r for r in replies), replies
    return [r["result"] for r in sorted(replies, key=lambda r: r["id"])]


def settled(node: Devnet, tx_hashes: list[str]) -> list[dict]:
    deadline = time.monotonic() + 60
    while True:
        records = [rpc(node, "og_getInference", h) for h in tx_hashes]
        if all(r and r["status"] == "settled" for r in records):  # type: ignore[index]
            return records  # type: ignore[return-value]
        assert time.monotonic() < deadline, [r and r["status"] for r in records]  # type: ignore[index]
        time.sleep(0.05)


def outputs(record: dict) -> np.ndarray:
    tensor = record["output"]["numbers"][0]
    return np.array([int(v) / 10 ** int(d) for v, d in tensor["values"]]).reshape(tensor["shape"])


def node_batches(node: Devnet) -> tuple[int, int]:
    info = rpc(node, "og_nodes")[0]  # type: ignore[index]
    return info["batches"], info["batched_jobs"]


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    # One node, so every job of a block reaches the same one; a window long enough that a
    # loaded CI machine still gathers the block's jobs.
    with Devnet(nodes=1, block_time=0.3, batch_window_ms=200, zkml=False, fixtures=False) as n:
        yield n


def test_vanilla_and_tee_jobs_share_a_batch_and_each_gets_its_own_answer(node: Devnet, program: tuple[Path, torch.nn.Module]) -> None:
    path, module = program
    model = register(node, path)
    rng = np.random.default_rng(0)
    for mode in (Mode.VANILLA, Mode.TEE):
        before = node_batches(node)
        xs = [rng.normal(size=(1, 4)).astype(np.float32) for _ in range(12)]
        hashes = send_together(node, model, int(mode), xs)
        records = settled(node, hashes)
        after = node_batches(node)
        assert after[0] > before[0] and after[1] - before[1] >= 6, (before, after)
        assert len({r["id"] for r in records}) == 12
        for x, record in zip(xs, records, strict=True):
            with torch.inference_mode():
                expected = module(torch.from_numpy(x)).numpy()
            # Each job's own rows (a batched kernel may differ from a single run in the last bit).
            np.testing.assert_allclose(outputs(record), expected, rtol=1e-5, atol=1e-6)
            assert record["mode_name"] == mode.name
        if mode == Mode.TEE:
            # Each answer carries its own attestation and response signature, verified by the chain.
            assert all(r["proof"]["kind"] == "tee" and r["proof"]["verified_at_result"] for r in records), records[0]["proof"]
            assert len({r["proof"]["request_hash"] for r in records}) == len({r["proof"]["output_hash"] for r in records}) == 12


def test_optimistic_jobs_run_one_by_one(node: Devnet, program: tuple[Path, torch.nn.Module]) -> None:
    model = register(node, program[0])
    before = node_batches(node)
    xs = [np.full((1, 4), i, dtype=np.float32) for i in range(6)]
    hashes = send_together(node, model, int(Mode.OPTIMISTIC), xs)
    deadline = time.monotonic() + 60
    while not all((r := rpc(node, "og_getInference", h)) and r["output"] is not None for h in hashes):  # type: ignore[index]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert node_batches(node) == before


def test_a_window_of_zero_turns_batching_off(program: tuple[Path, torch.nn.Module]) -> None:
    with Devnet(nodes=1, block_time=0.3, batch_window_ms=0, zkml=False, fixtures=False) as n:
        model = register(n, program[0])
        settled(n, send_together(n, model, int(Mode.VANILLA), [np.ones((1, 4), dtype=np.float32)] * 8))
        assert node_batches(n) == (0, 0)
