"""LLM gateway answers settled on chain (rust/src/chain/llm): a shared batch waits its blocks,
then the full node verifies every answer against the TEE registry's key; a tampered answer is
rejected and its node loses the bond. Answers are signed here as gateways sign them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from og_devnet import Devnet
from og_devnet._core import Chain, keccak256
from og_devnet.llm.signing import proof

from conftest import result

LLM_SETTLEMENT = dict(Chain.native_contracts())["llm_settlement"]
BATCH_SETTLED = "0x" + keccak256(b"LLMBatchSettled(uint256,bytes32,uint256,uint256)").hex()


@pytest.fixture
def node() -> Iterator[Devnet]:
    # No gateways of its own: the test registers and signs as one.
    with Devnet(mining="manual", llm_gateways=0) as net:
        yield net


class Gateway:
    def __init__(self, node: Devnet) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        spki = self.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.operator = node.nodes[0]
        record = {"owner": self.operator.address, "endpoint": "https://127.0.0.1:1", "public_key": "0x" + spki.hex(),
                  "certificate": "0x", "pcr_hash": "0x" + "00" * 32, "tee_type": 0, "registered_at_ms": 0}  # fmt: skip
        self.tee_id = node.chain.register_enclave(json.dumps(record))
        self.chain = node.chain

    def submit(self, prompt: str, answer: str, settlement_type: str = "batch", signed: str | None = None) -> tuple[str, str | None, dict[str, Any]]:
        """Signs `signed` (default: the answer) and submits `answer`: (id, batch tx, tee fields)."""
        canonical = {"model": "m", "messages": [{"role": "user", "content": prompt}], "temperature": 0.0}
        tee = proof(self.key, self.tee_id, canonical, answer if signed is None else signed)
        tee["tee_output_hash"] = "0x" + keccak256(answer.encode()).hex()
        submission = {
            "tee_id": self.tee_id, "request_hash": tee["tee_request_hash"], "output_hash": tee["tee_output_hash"],
            "timestamp": tee["tee_timestamp"], "signature": "0x" + base64.b64decode(tee["tee_signature"]).hex(),
            "settlement_type": settlement_type, "model_id": "m", "kind": "chat", "input": canonical["messages"],
            "output": answer, "delivered": answer, "t_request_ms": now_ms() - 40, "t_result_ms": now_ms(), "node": self.operator.address,
            "node_index": self.operator.index, "payment": {"payer": "0x" + "09" * 20, "amount": "1000"},
        }  # fmt: skip
        record_id, tx = self.chain.submit_llm_inference(json.dumps(submission))
        return record_id, tx, tee


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def leaf(tee: dict[str, Any]) -> bytes:
    rh, oh = bytes.fromhex(tee["tee_request_hash"][2:]), bytes.fromhex(tee["tee_output_hash"][2:])
    return keccak256(rh + oh + keccak256(base64.b64decode(tee["tee_signature"])))


def test_a_batch_settles_after_its_blocks_and_a_tampered_answer_costs_the_bond(node: Devnet) -> None:
    gw = Gateway(node)
    stake = Chain.stake_address(gw.operator.address)
    before = int(node.chain.balance(stake, "latest"))
    a, tx, tee_a = gw.submit("hi", "hello")
    b, tx_b, tee_b = gw.submit("again", "world")
    assert tx is not None and tx_b == tx
    forged, forged_tx, _ = gw.submit("pay me", "a lie", "individual", signed="the truth")
    assert result(node, "og_getInference", [a])["status"] == "delivered"

    node.mine(1)  # the individual batch
    record = result(node, "og_getInference", [forged])
    assert record["status"] == "rejected" and record["rejection_reason"].startswith("bad_signature: "), record
    bond = int(json.loads(node.chain.economics_json())["bond"], 16)
    assert int(node.chain.balance(stake, "latest")) == before - bond
    assert int(record["slashed"]) == bond
    assert result(node, "og_getInference", [forged_tx])["status"] == "rejected"

    node.mine(2)
    assert result(node, "og_getInference", [b])["status"] == "delivered", "the shared batch waits 3 blocks"
    assert result(node, "eth_getTransactionReceipt", [tx]) is None
    node.mine(1)
    record = result(node, "og_getInference", [a])
    assert record["status"] == "settled" and record["trust_gap_ms"] > 0, record
    assert record["llm"]["leaf_index"] == 0 and record["tx_hash"] == tx
    batch = result(node, "og_getInference", [tx])
    assert batch["status"] == "settled" and [c["id"] for c in batch["calls"]] == [a, b]

    receipt = result(node, "eth_getTransactionReceipt", [tx])
    (log,) = [log for log in receipt["logs"] if log["topics"][0] == BATCH_SETTLED]
    assert log["address"].lower() == LLM_SETTLEMENT.lower()
    root = keccak256(leaf(tee_a) + leaf(tee_b))
    assert log["data"][2:66] == root.hex() and record["llm"]["merkle_root"] == "0x" + root.hex()
    assert int(log["data"][66:130], 16) == 2 and int(log["data"][130:], 16) == 0


def test_automine_seals_the_blocks_a_shared_batch_waits_for() -> None:
    with Devnet(mining="auto", llm_gateways=0) as net:
        gw = Gateway(net)
        record_id, tx, _ = gw.submit("hi", "hello")
        deadline = time.monotonic() + 20
        while (record := result(net, "og_getInference", [record_id]))["status"] != "settled":
            assert time.monotonic() < deadline, record
            time.sleep(0.05)
        assert result(net, "eth_getTransactionReceipt", [tx])["status"] == "0x1"
        assert not net.chain.settlement_due(now_ms()), "nothing left to seal blocks for"
