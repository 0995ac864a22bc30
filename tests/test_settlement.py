"""Proofs apart from results, end to end: ZKML proofs made after the result and verified by
the full node, OPTIMISTIC bonds with a watcher and a referee, byzantine nodes caught and
slashed in each mode, `runMany` with mixed modes, and fees and `og_quote`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from web3 import Web3

from conftest import DEV_KEYS, DEV0, result, rpc
from og_devnet import HUB_ABI, Devnet
from og_devnet._core import Chain
from og_devnet.inference.catalog import FIXTURES

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
X = np.array([[0.25, -1.5, 3.0, 0.125]], dtype=np.float32)
NUMBERS = [("input", [(25, 2), (-15, 1), (3, 0), (125, 3)], [1, 4])]
FINAL = ("settled", "rejected", "slashed")


def mlp(node: Devnet) -> str:
    return next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")


def onnx(x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(FIXTURES / "mlp.onnx")).run(None, {"input": x})[0]


def wait_for(node: Devnet, tx: str, statuses: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
    """Polls og_getInference until the inference reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        record = result(node, "og_getInference", [tx])
        if record is not None and record["status"] in statuses:
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"{tx} stayed {record and record['status']!r}, expected one of {statuses}")
        time.sleep(0.05)


def send(node: Devnet, mode: int, key: int = 0) -> str:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    hub = w3.eth.contract(address=HUB, abi=json.loads(HUB_ABI.read_text()))
    account = w3.eth.account.from_key(node.chain.dev_accounts()[key][1])
    tx = hub.functions.run(mlp(node), mode, (NUMBERS, [])).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending"), "gas": 500_000}
    )
    return "0x" + w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction).hex().removeprefix("0x")


def stake(node: Devnet, index: int) -> int:
    return int(node.node_info()[index]["stake"])


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(block_time=0.2, challenge_window=3) as n:
        assert n.catalog.zkml_ready(mlp(n), timeout=300), n.catalog.get(mlp(n))["zkml"]
        yield n


def test_sdk_zkml_inference_settles_after_its_proof_is_verified(node: Devnet) -> None:
    import opengradient as og

    alpha = og.Alpha(private_key=DEV_KEYS[0], rpc_url=node.rpc_url)
    got = alpha.infer(model_cid=mlp(node), inference_mode=og.InferenceMode.ZKML, model_input={"input": X})
    np.testing.assert_array_equal(np.asarray(got.model_output["output"], dtype=np.float32), onnx(X))
    tx = "0x" + got.transaction_hash.removeprefix("0x")
    r = wait_for(node, tx, FINAL)
    assert r["status"] == "settled", r
    # Delivered first, proven afterwards, settled in a later block: the trust gap is the proving.
    assert r["t_request"] <= r["t_result"] <= r["t_included"] <= r["t_proof_submitted"] <= r["t_settled"]
    assert r["settlement_block"] > r["block_number"] and r["proof_hash"]
    assert r["trust_gap_ms"] == r["t_settled"] - r["t_result"] > 0
    assert int(r["fee_paid"]) == node.chain.inference_fee(mlp(node), 1)


def test_an_optimistic_result_settles_when_its_window_closes(node: Devnet) -> None:
    tx = send(node, 3)
    r = wait_for(node, tx, ("challengeable",), timeout=30)
    assert r["challenge_window_ends"] == r["block_number"] + 3
    r = wait_for(node, tx, FINAL, timeout=30)
    assert r["status"] == "settled" and r["settlement_block"] == r["block_number"] + 3


def test_run_many_mixes_modes_and_settles_after_its_last_call(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    hub = w3.eth.contract(address=HUB, abi=json.loads(HUB_ABI.read_text()))
    calls = [(mlp(node), mode, (NUMBERS, [])) for mode in (0, 2, 1)]
    tx = hub.functions.runMany(calls).transact({"from": DEV0.address})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    events = hub.events.InferenceResult().process_receipt(receipt)
    assert receipt["status"] == 1 and len(events) == 3, "three results at once"
    r = wait_for(node, tx.to_0x_hex(), ("settled", "partly_rejected"))
    assert r["status"] == "settled", r
    settled_at = [c["t_settled"] for c in r["calls"]]
    blocks = [c["settlement_block"] for c in r["calls"]]
    assert [c["mode"] for c in r["calls"]] == [0, 2, 1]
    assert blocks[0] < blocks[1] < blocks[2], "VANILLA at inclusion, TEE next block, ZKML after its proof"
    assert r["t_settled"] == max(settled_at) == settled_at[2]


def test_og_quote_orders_prices_and_recommends_by_value_at_risk(node: Devnet) -> None:
    wait_for(node, send(node, 2, key=5), FINAL, timeout=30)  # an observed TEE trust gap
    q = result(node, "og_quote", [mlp(node)])
    prices = {m["name"]: int(m["price"], 16) for m in q["modes"]}
    assert prices["VANILLA"] < prices["OPTIMISTIC"] < prices["TEE"] < prices["ZKML"] == 10 * prices["TEE"]
    assert all(m["supported"] for m in q["modes"])
    tee = next(m for m in q["modes"] if m["name"] == "TEE")
    assert tee["trust_gap_ms"]["samples"] >= 1 and tee["trust_gap_ms"]["p50"] > 0
    small = result(node, "og_quote", [mlp(node), hex(10**18)])["recommendation"]
    large = result(node, "og_quote", [mlp(node), hex(10**24)])["recommendation"]
    assert (small["name"], large["name"]) == ("OPTIMISTIC", "ZKML")
    assert result(node, "og_quote", [mlp(node), "0x0"])["recommendation"]["name"] == "VANILLA"
    assert rpc(node, "og_quote", ["nope"])["error"]["code"] == -32602
    assert rpc(node, "og_quote", [mlp(node), "lots"])["error"]["code"] == -32602


def test_fees_are_charged_to_the_sender_and_held_until_settlement(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    sender = node.chain.dev_accounts()[3][0]
    before = w3.eth.get_balance(sender)
    tx = send(node, 2, key=3)
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    spent = before - w3.eth.get_balance(sender)
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert spent == gas + node.chain.inference_fee(mlp(node), 2)
    r = wait_for(node, tx, FINAL, timeout=30)
    assert r["status"] == "settled" and int(r["fee_paid"]) == node.chain.inference_fee(mlp(node), 2)


def test_zkml_needs_a_zkml_model() -> None:
    with Devnet(zkml=False) as n:
        e = rpc(n, "eth_estimateGas", [{"from": DEV0.address, "to": HUB, "data": zk_calldata(n)}])["error"]
        assert e["code"] == 3 and "does not support ZKML" in e["message"] and "not enabled at registration" in e["message"]
        llm = next(m["id"] for m in n.catalog.list() if m["name"] == "tiny-llama")
        assert "language models" in n.catalog.get(llm)["zkml"]


def zk_calldata(node: Devnet) -> str:
    hub = Web3().eth.contract(address=HUB, abi=json.loads(HUB_ABI.read_text()))
    return hub.encode_abi("run", [mlp(node), 1, (NUMBERS, [])])


@pytest.mark.parametrize("mode", [1, 2, 3], ids=["zkml", "tee", "optimistic"])
def test_a_byzantine_node_never_wins_a_settled_result_and_is_slashed(mode: int) -> None:
    # Node 0 lies; with TEE its evidence fails at once and node 1 wins the race. With ZKML
    # and OPTIMISTIC its result is delivered, then rejected (proof for another output) or
    # disputed and slashed (watcher and referee) — and honest results settle.
    with Devnet(block_time=0.2, nodes=2, node_faults={0: "byzantine"}, challenge_window=3) as n:
        if mode == 1:
            assert n.catalog.zkml_ready(mlp(n), timeout=300)
        liar = n.node_info()[0]
        before = stake(n, 0)
        txs = [send(n, mode, key=k) for k in range(4)]
        records = [wait_for(n, tx, FINAL) for tx in txs]
        liar_results = [r for r in records if r["winner_node"] == 0]
        assert all(r["status"] != "settled" for r in liar_results)
        assert any(r["status"] == "settled" and r["winner_node"] == 1 for r in records)
        expected = {1: "rejected", 2: None, 3: "slashed"}[mode]
        if expected:
            assert liar_results and {r["status"] for r in liar_results} == {expected}
            assert all(r["slashed"] == str(int(json.loads(n.chain.economics_json())["bond"], 16)) for r in liar_results)
        if mode == 1:
            assert all(r["rejection_reason"].startswith("output_mismatch") for r in liar_results)
        deadline = time.monotonic() + 10
        while stake(n, 0) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        info = n.node_info()[0]
        assert stake(n, 0) < before and info["marked"] and info["penalties"] >= 1, info
        assert stake(n, 1) == int(json.loads(n.chain.economics_json())["nodeStake"], 16)
        if mode == 3:
            watcher = n.chain.watcher()
            assert n.chain.balance(watcher, "latest") > 0, "the challenger was rewarded"
        assert liar["stake_address"] == Chain.stake_address(liar["address"])


def test_unsettled_results_survive_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Devnet(state=tmp_path, block_time=0.2, challenge_window=10_000) as n:
        tx = send(n, 3)
        wait_for(n, tx, ("challengeable",), timeout=30)
    # The window was long; restarted with a short one, the result is still due and settles.
    with Devnet(state=tmp_path, block_time=0.2, challenge_window=3) as n:
        r = wait_for(n, tx, FINAL, timeout=30)
        assert r["status"] == "settled" and int(r["fee_paid"]) == n.chain.inference_fee(mlp(n), 3)
        assert n.chain.balance(HUB, "latest") == 0, "no fee left stranded in the hub"


def test_evm_revert_undoes_settlements_made_after_the_snapshot() -> None:
    with Devnet(mining="manual") as n:
        tx = send(n, 2)
        deadline = time.monotonic() + 30
        while n.chain.pipe().job_json(tx) is None or json.loads(n.chain.pipe().job_json(tx))["status"] != "result_ready":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        n.mine(1)
        snapshot = result(n, "evm_snapshot")
        n.mine(1)
        assert result(n, "og_getInference", [tx])["status"] == "settled"
        assert result(n, "evm_revert", [snapshot]) is True
        r = result(n, "og_getInference", [tx])
        assert r["status"] == "delivered" and "t_settled" not in r and r["settlement_steps"] == []
        assert n.chain.balance(HUB, "latest") == n.chain.inference_fee(mlp(n), 2), "the fee is held again"
        n.mine(1)
        assert result(n, "og_getInference", [tx])["status"] == "settled"
        assert n.chain.balance(HUB, "latest") == 0


def test_automine_seals_the_block_that_settles_a_proof() -> None:
    # Under automine no later transaction may come: the proof still gets its block.
    with Devnet(mining="auto") as n:
        tx = send(n, 2)
        r = wait_for(n, tx, FINAL, timeout=30)
        assert r["status"] == "settled" and r["settlement_block"] == r["block_number"] + 1
