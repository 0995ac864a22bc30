"""Bounded memory: the chain keeps the bodies of its last few blocks only; older ones are read
back from the store when asked for, and every read answers exactly as it did while they were
in memory, and again after a restart from the state directory."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from eth_account import Account
from web3 import Web3

from conftest import DEV0, DEV_KEYS, RECIPIENT, result
from og_devnet import Devnet
from og_devnet._core import BodyArchived, encode_run_call
from og_devnet.inference.fixedpoint import model_input

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
GWEI = 10**9
WINDOW = 2
PERCENTILES = [10.0, 50.0, 90.0]


def send_inference(node: Devnet) -> str:
    model = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
    numbers, _ = model_input({"input": np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32)})
    data = "0x" + encode_run_call(model, 0, json.dumps(numbers), "[]").hex()
    tx_hash: str = result(node, "eth_sendTransaction", [{"from": DEV0.address, "to": HUB, "data": data, "gas": hex(300_000)}])
    deadline = time.monotonic() + 30
    while (record := result(node, "og_getInference", [tx_hash])) is None or record["status"] == "pending":
        assert time.monotonic() < deadline, "the inference was not decided"
        time.sleep(0.01)
    return tx_hash


def send_transfer(w3: Web3, nonce: int, tip: int) -> str:
    tx = {
        "type": 2, "to": RECIPIENT, "value": 5, "gas": 21_000, "nonce": nonce, "chainId": w3.eth.chain_id,
        "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": tip,
    }  # fmt: skip
    return w3.eth.send_raw_transaction(Account.from_key(DEV_KEYS[1]).sign_transaction(tx).raw_transaction).to_0x_hex()


def block_reads(node: Devnet, n: int) -> dict[str, Any]:
    """Everything a client reads of block `n` and its transactions, as the wire gives it."""
    block = result(node, "eth_getBlockByNumber", [hex(n), True])
    h = block["hash"]
    txs = []
    for i, tx in enumerate(block["transactions"]):
        txs.append({
            "by_hash": result(node, "eth_getTransactionByHash", [tx["hash"]]),
            "receipt": result(node, "eth_getTransactionReceipt", [tx["hash"]]),
            "raw": result(node, "eth_getRawTransactionByHash", [tx["hash"]]),
            "by_number_index": result(node, "eth_getTransactionByBlockNumberAndIndex", [hex(n), hex(i)]),
            "by_hash_index": result(node, "eth_getTransactionByBlockHashAndIndex", [h, hex(i)]),
            "raw_by_number_index": result(node, "eth_getRawTransactionByBlockNumberAndIndex", [hex(n), hex(i)]),
            "raw_by_hash_index": result(node, "eth_getRawTransactionByBlockHashAndIndex", [h, hex(i)]),
            "explorer": httpx.get(f"{node.url}/api/txs/{tx['hash']}").json(),
        })  # fmt: skip
    return {
        "full": block,
        "hashes": result(node, "eth_getBlockByNumber", [hex(n), False]),
        "by_hash": result(node, "eth_getBlockByHash", [h, True]),
        "count": result(node, "eth_getBlockTransactionCountByHash", [h]),
        "receipts": result(node, "eth_getBlockReceipts", [hex(n)]),
        "logs": result(node, "eth_getLogs", [{"blockHash": h}]),
        "fees": result(node, "eth_feeHistory", ["0x1", hex(n), PERCENTILES]),
        "txs": txs,
    }


def build_chain(node: Devnet) -> list[dict[str, Any]]:
    """Blocks of inferences, transfers at several tips, both, and none; each block's reads
    captured while its body is surely in memory (just mined)."""
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    nonce = 0
    before = [block_reads(node, 0)]
    for plan in ["i", "t", "it", "", "tt", "i", "t"]:
        for kind in plan:
            if kind == "i":
                send_inference(node)
            else:
                send_transfer(w3, nonce, tip=(nonce % 3 + 1) * GWEI)
                nonce += 1
        (n,) = node.mine(1)
        before.append(block_reads(node, n))
    return before


def assert_answers_as_before(node: Devnet, before: list[dict[str, Any]]) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    head = len(before) - 1
    for n, reads in enumerate(before):
        assert block_reads(node, n) == reads, f"block {n}"
    # The whole range at once: what each block's own answer held, in order.
    every_log = [log for reads in before for log in reads["logs"]]
    assert every_log, "the chain has inference logs"
    assert result(node, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head)}]) == every_log
    hub_logs = [log for log in every_log if log["address"].lower() == HUB.lower()]
    assert result(node, "eth_getLogs", [{"fromBlock": "earliest", "toBlock": "latest", "address": HUB}]) == hub_logs
    topic = hub_logs[0]["topics"][0]
    by_topic = [log for log in every_log if log["topics"] and log["topics"][0] == topic]
    assert result(node, "eth_getLogs", [{"fromBlock": "0x0", "address": [HUB, RECIPIENT], "topics": [[topic, "0x" + "ab" * 32]]}]) == by_topic
    assert result(node, "eth_getLogs", [{"fromBlock": "0x0", "topics": ["0x" + "ab" * 32]}]) == []
    # web3.py's view of them too.
    seen = w3.eth.get_logs({"fromBlock": 0, "toBlock": head, "address": HUB})
    assert [(lg["transactionHash"].to_0x_hex(), lg["logIndex"]) for lg in seen] == [
        (lg["transactionHash"], int(lg["logIndex"], 16)) for lg in hub_logs
    ]
    # Fee history over the whole chain: each block's entry as it was answered alone.
    history = result(node, "eth_feeHistory", [hex(head + 1), hex(head), PERCENTILES])
    assert history["oldestBlock"] == "0x0"
    for n, reads in enumerate(before):
        assert history["baseFeePerGas"][n] == reads["fees"]["baseFeePerGas"][0]
        assert history["gasUsedRatio"][n] == reads["fees"]["gasUsedRatio"][0]
        assert history["reward"][n] == reads["fees"]["reward"][0]
    assert history["baseFeePerGas"][-1] == before[-1]["fees"]["baseFeePerGas"][-1]


def test_old_blocks_answer_as_before_from_the_store_and_after_a_restart(tmp_path: Path) -> None:
    with Devnet(mining="manual", body_window=WINDOW, state=tmp_path) as node:
        before = build_chain(node)
        node.mine(WINDOW)  # every block of `before` leaves the window
        assert node.chain.body_window == WINDOW
        # The chain itself no longer holds them: it names the blocks it needs.
        with pytest.raises(BodyArchived) as archived:
            node.chain.block_json(1, True)
        assert archived.value.args[1] == [1]
        with pytest.raises(BodyArchived) as archived:
            node.chain.logs_json(from_block=0, to_block="latest", addresses=[HUB])
        inference_blocks = [n for n, reads in enumerate(before) if any(lg["address"].lower() == HUB.lower() for lg in reads["logs"])]
        assert archived.value.args[1] == inference_blocks, "only blocks whose bloom matches are needed"
        assert_answers_as_before(node, before)
    with Devnet(mining="manual", body_window=WINDOW, state=tmp_path) as node:
        with pytest.raises(BodyArchived):
            node.chain.block_json(1, True)
        assert_answers_as_before(node, before)
        # New blocks on the restored chain carry on from it.
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        tx = send_transfer(w3, w3.eth.get_transaction_count(Account.from_key(DEV_KEYS[1]).address), GWEI)
        node.mine(1)
        assert w3.eth.get_transaction_receipt(tx)["status"] == 1


def test_a_revert_past_the_window_drops_archived_blocks(tmp_path: Path) -> None:
    with Devnet(mining="manual", body_window=WINDOW, state=tmp_path) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        first = send_transfer(w3, 0, GWEI)
        node.mine(1)
        snapshot = result(node, "evm_snapshot")
        later = [send_transfer(w3, nonce, GWEI) for nonce in (1, 2)]
        node.mine(WINDOW + 3)
        assert w3.eth.get_transaction_receipt(later[0])["blockNumber"] == 2, "read back from the store"
        assert result(node, "evm_revert", [snapshot]) is True
        assert w3.eth.block_number == 1
        assert w3.eth.get_transaction_receipt(first)["blockNumber"] == 1
        for h in later:
            assert result(node, "eth_getTransactionReceipt", [h]) is None
        again = send_transfer(w3, 1, 2 * GWEI)
        node.mine(WINDOW + 2)
        receipt = result(node, "eth_getTransactionReceipt", [again])
        assert int(receipt["blockNumber"], 16) == 2 and receipt["transactionHash"] == again


def test_bodies_that_cannot_be_loaded_become_a_wire_error() -> None:
    from og_devnet.errors import rpc_error

    # The retry of a read whose loaded bodies were pushed out again meanwhile: a transient
    # server error with the core's message, not an internal error.
    exc = BodyArchived("the body of block 7 is archived in the store and could not be loaded; retry", [7])
    assert rpc_error(exc) == {"code": -32000, "message": exc.args[0]}
