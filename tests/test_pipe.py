"""PIPE against real nodes: faults, redundancy, hedging; blocks never wait for inference."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import onnxruntime as ort

from conftest import DEV0, result, rpc
from og_devnet import Devnet
from og_devnet._core import encode_run_call
from og_devnet.inference.catalog import FIXTURES
from og_devnet.inference.fixedpoint import from_fixed, model_input

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"


def mlp_id(node: Devnet) -> str:
    return next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")


def send_many(node: Devnet, inputs: list[list[float]], sender: str = DEV0.address) -> list[str]:
    batch = []
    for i, x in enumerate(inputs):
        numbers, _ = model_input({"input": np.array([x], dtype=np.float32)})
        data = "0x" + encode_run_call(mlp_id(node), 0, json.dumps(numbers), "[]").hex()
        tx = {"from": sender, "to": HUB, "data": data, "gas": hex(300_000)}
        batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction", "params": [tx]})
    answers = httpx.post(node.rpc_url, json=batch, timeout=60).json()
    assert all("result" in a for a in answers), answers[:2]
    return [a["result"] for a in sorted(answers, key=lambda a: a["id"])]


def wait_receipts(node: Devnet, hashes: list[str], timeout: float = 120) -> list[dict]:
    deadline, receipts = time.monotonic() + timeout, {}
    while len(receipts) < len(hashes) and time.monotonic() < deadline:
        batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionReceipt", "params": [h]}
                 for i, h in enumerate(hashes) if h not in receipts]  # fmt: skip
        for a in httpx.post(node.rpc_url, json=batch, timeout=60).json():
            if a.get("result"):
                receipts[a["result"]["transactionHash"]] = a["result"]
        time.sleep(0.1)
    assert len(receipts) == len(hashes), f"{len(receipts)}/{len(hashes)} mined"
    return [receipts[h] for h in hashes]


def block_intervals(node: Devnet, first: int, last: int) -> list[int]:
    stamps = [int(result(node, "eth_getBlockByNumber", [hex(n), False])["timestampMs"], 16) for n in range(first, last + 1)]
    return [b - a for a, b in zip(stamps, stamps[1:])]


def test_redundancy_two_with_a_down_and_a_byzantine_node() -> None:
    rng = np.random.default_rng(5)
    inputs = [[float(v) for v in rng.normal(size=4).astype(np.float32)] for _ in range(200)]
    sess = ort.InferenceSession(str(FIXTURES / "mlp.onnx"), providers=["CPUExecutionProvider"])
    with Devnet(block_time=0.2, redundancy=2, node_faults={1: "down", 2: "byzantine"}, attempt_timeout_ms=1000) as node:
        while (first := int(result(node, "eth_blockNumber"), 16)) < 1:  # genesis predates start-up
            time.sleep(0.02)
        hashes = send_many(node, inputs)
        receipts = wait_receipts(node, hashes)
        last = int(result(node, "eth_blockNumber"), 16)
        assert all(r["status"] == "0x1" for r in receipts)
        byzantine = node.chain.pipe().node_addresses()[2].lower()
        for h, x in zip(hashes, inputs, strict=True):
            record = result(node, "og_getInference", [h])
            got = np.array([np.float32(from_fixed(v, d)) for v, d in record["output"]["numbers"][0]["values"]], dtype=np.float32)
            np.testing.assert_array_equal(got, sess.run(None, {"input": np.array([x], dtype=np.float32)})[0][0])
            assert record["winner_address"].lower() != byzantine
        stats = result(node, "og_pipeStats")
        assert stats["nodes"][2]["wins"] == 0 and stats["nodes"][1]["wins"] == 0
        assert stats["nodes"][2]["disagreements"] + stats["nodes"][2]["invalid"] >= 1, "the byzantine node was caught"
        assert stats["nodes"][1]["timeouts"] + stats["nodes"][1]["cancelled"] >= 1, "the down node was outpaced"
        assert all(n["running"] <= 1 for n in stats["nodes"])
        intervals = block_intervals(node, first, last)
        # A gross-stall guard only; the precise figure is measured in bench/inference_flood.py.
        assert max(intervals) <= 1000, f"blocks went on while inference ran: max interval {max(intervals)} ms"


def test_a_lingering_job_is_hedged_and_the_slow_copy_discarded() -> None:
    with Devnet(block_time=0.1, nodes=2, node_faults={0: "slow:400"}, hedge_budget=1.0) as node:
        hashes = send_many(node, [[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
        wait_receipts(node, hashes, timeout=30)
        records = [result(node, "og_getInference", [h]) for h in hashes]
        hedged = [r for r in records if any(a["hedge"] for a in r["attempts"])]
        assert hedged, records
        for r in hedged:
            outcomes = {a["node"]: a["outcome"] for a in r["attempts"]}
            assert outcomes[1] == "won" and outcomes[0] == "cancelled"
            assert r["t_result"] - r["t_request"] >= 1000, "hedged at the initial 1 s delay"
        assert result(node, "og_pipeStats")["hedges"] >= 1


def test_flaky_node_is_retried_and_faults_change_at_run_time() -> None:
    with Devnet(block_time=0.1, nodes=2, node_faults={0: "flaky:1.0"}) as node:
        hashes = send_many(node, [[1.0, 1.0, 1.0, 1.0]] * 4)
        assert all(r["status"] == "0x1" for r in wait_receipts(node, hashes, timeout=30))
        stats = result(node, "og_pipeStats")
        assert stats["nodes"][0]["wins"] == 0 and stats["retries"] >= 1
        changed = result(node, "og_setNodeFault", [1, "slow:3"])
        assert changed["fault"] == "slow:3"
        assert [n["fault"] for n in result(node, "og_nodes")] == ["flaky:1", "slow:3"]
        assert rpc(node, "og_setNodeFault", [5, "ok"])["error"]["code"] == -32602
        assert "unknown fault" in rpc(node, "og_setNodeFault", [0, "sleepy"])["error"]["message"]
        result(node, "og_setNodeFault", [0, "ok"])
        hashes = send_many(node, [[2.0, 2.0, 2.0, 2.0]] * 2)
        assert all(r["status"] == "0x1" for r in wait_receipts(node, hashes, timeout=30))


def test_all_nodes_down_fails_the_job_but_not_the_chain() -> None:
    with Devnet(block_time=0.1, nodes=2, node_faults={0: "down", 1: "down"}, attempt_timeout_ms=200) as node:
        (h,) = send_many(node, [[1.0, 1.0, 1.0, 1.0]])
        (receipt,) = wait_receipts(node, [h], timeout=30)
        assert receipt["status"] == "0x0"
        record = result(node, "og_getInference", [h])
        assert record["status"] == "failed" and "timed out" in record["error"]
        assert result(node, "og_pipeStats")["degraded"] is True


def test_automine_seals_an_inference_once_its_race_is_decided(og_devnet: Devnet) -> None:
    # The pytest plugin's devnet automines: the request is answered before any node has run
    # the job, and the block comes when the race ends.
    (h,) = send_many(og_devnet, [[1.0, 2.0, 3.0, 4.0]])
    (receipt,) = wait_receipts(og_devnet, [h], timeout=10)
    assert receipt["status"] == "0x1"
    # Committed jobs leave PIPE's memory; the record is served from the store.
    assert og_devnet.chain.pipe().job_json(h) is None
    assert result(og_devnet, "og_getInference", [h])["status"] == "settled"


def test_a_byzantine_tee_node_is_caught_by_its_attestation() -> None:
    # Redundancy 1: only the attestation stands between a wrong answer and the user.
    with Devnet(block_time=0.1, nodes=2, node_faults={0: "byzantine"}) as node:
        batch = []
        for i in range(6):
            numbers, _ = model_input({"input": np.array([[float(i), 1.0, 2.0, 3.0]], dtype=np.float32)})
            data = "0x" + encode_run_call(mlp_id(node), 2, json.dumps(numbers), "[]").hex()
            batch.append({"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction",
                          "params": [{"from": DEV0.address, "to": HUB, "data": data, "gas": hex(300_000)}]})  # fmt: skip
        hashes = [a["result"] for a in sorted(httpx.post(node.rpc_url, json=batch).json(), key=lambda a: a["id"])]
        assert all(r["status"] == "0x1" for r in wait_receipts(node, hashes, timeout=30))
        for h in hashes:
            record = result(node, "og_getInference", [h])
            assert record["winner_node"] == 1
            rejected = [a for a in record["attempts"] if a["node"] == 0]
            for a in rejected:
                assert a["outcome"] == "invalid" and a["detail"].startswith("pcr_mismatch"), a
        stats = result(node, "og_pipeStats")
        assert stats["nodes"][0]["wins"] == 0 and stats["nodes"][0]["invalid"] >= 1


def test_a_tee_node_attests_once_and_each_answer_is_checked_against_that_document() -> None:
    # One node: every answer carries its enclave's document for the model, attested once; the
    # races check it in full once (a miss) and then only each answer (hits), settlement too.
    with Devnet(block_time=0.1, nodes=1) as node:
        hashes = []
        for i in range(3):  # one after the other: three answers, far apart enough to differ in time
            numbers, _ = model_input({"input": np.array([[float(i), 2.0, 1.0, 0.5]], dtype=np.float32)})
            data = "0x" + encode_run_call(mlp_id(node), 2, json.dumps(numbers), "[]").hex()
            tx = {"from": DEV0.address, "to": HUB, "data": data, "gas": hex(300_000)}
            hashes.append(result(node, "eth_sendTransaction", [tx]))
            wait_receipts(node, hashes[-1:], timeout=30)
        deadline = time.monotonic() + 15
        while (records := [result(node, "og_getInference", [h]) for h in hashes]) and any(r["status"] != "settled" for r in records):
            assert time.monotonic() < deadline, [r["status"] for r in records]
            time.sleep(0.1)
        proofs = [r["proof"] for r in records]
        assert all(p["kind"] == "tee" and p["verified_at_result"] and p["module_id"] == "og-devnet-node-0" for p in proofs)
        assert len({p["attestation_timestamp_ms"] for p in proofs}) == 1, "the same document vouches for each answer"
        assert len({p["response_timestamp_ms"] for p in proofs}) == 3, "each answer is signed afresh"
        assert len({p["attestation_bytes"] for p in proofs}) == 1
        cache = result(node, "og_pipeStats")["tee_attestations"]
        assert cache["misses"] == 1 and cache["entries"] == 1, cache
        assert cache["hits"] >= 2 + 3, cache  # the second and third answers, and settling each
