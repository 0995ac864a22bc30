"""Every bad inference input gets a readable revert reason at eth_estimateGas, and status 0
with the reason on the inference when mined anyway. The node keeps serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from conftest import DEV0, result, rpc
from og_devnet import Devnet
from og_devnet._core import encode_completion_call, encode_run_call

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(block_time=0.1) as n:
        yield n


def ids(node: Devnet) -> dict[str, str]:
    return {m["name"]: m["id"] for m in node.catalog.list()}


def run_data(model: str, mode: int = 0, numbers: Any = None, strings: Any = None) -> str:
    if numbers is None:
        numbers = [{"name": "input", "values": [["1", "0"]] * 4, "shape": [1, 4]}]
    return "0x" + encode_run_call(model, mode, json.dumps(numbers), json.dumps(strings or [])).hex()


CASES = [
    ("unknown model", lambda m: run_data("0" * 64), "unknown model id"),
    ("unsupported mode", lambda m: run_data(m["tiny-llama"], 1), "does not support ZKML inference"),
    ("unknown mode", lambda m: run_data(m["mlp"], 7), "unknown inference mode 7"),
    ("missing tensor", lambda m: run_data(m["mlp"], 0, []), 'missing input tensor "input"'),
    ("extra tensor", lambda m: run_data(m["mlp"], 0, [{"name": "input", "values": [["1", "0"]] * 4, "shape": [1, 4]},
                                                      {"name": "bias", "values": [["1", "0"]], "shape": [1]}]),
     'unexpected input tensor "bias"'),
    ("mis-shaped tensor", lambda m: run_data(m["mlp"], 0, [{"name": "input", "values": [["1", "0"]] * 6, "shape": [2, 3]}]),
     "has shape [2, 3], the model expects [1, 4]"),
    ("values and shape disagree", lambda m: run_data(m["mlp"], 0, [{"name": "input", "values": [["1", "0"]] * 3, "shape": [1, 4]}]),
     "has 3 values, its shape [1, 4] needs 4"),
    ("wrong dtype", lambda m: run_data(m["mlp"], 0, [], [{"name": "input", "values": ["a", "b", "c", "d"]}]),
     "wrong dtype"),
    ("input over the size limit", lambda m: run_data(m["mlp"], 0, [{"name": "input", "values": [["1", "0"]] * 70_000, "shape": [1, 70_000]}]),
     "over the limit of 65536"),
    ("language model through run", lambda m: run_data(m["tiny-llama"]), "is a language model"),
    ("prompt over the context length", lambda m: "0x" + encode_completion_call(m["tiny-llama"], 0, "the chain " * 400, 16).hex(),
     "prompt over the context length"),
    ("max_tokens over the context", lambda m: "0x" + encode_completion_call(m["tiny-llama"], 0, "hi", 100_000).hex(),
     "over the context length"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_inference_input(node: Devnet, name: str, data: Any, reason: str) -> None:
    calldata = data(ids(node))
    tx = {"from": DEV0.address, "to": HUB, "data": calldata}
    # At estimateGas, as a revert with the reason and Error(string) data.
    body = rpc(node, "eth_estimateGas", [tx])
    assert body["error"]["code"] == 3 and reason in body["error"]["message"], body
    assert body["error"]["data"].startswith("0x08c379a0")
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    with pytest.raises(ContractLogicError, match="execution reverted"):
        w3.eth.call({"from": DEV0.address, "to": HUB, "data": calldata})
    # Mined anyway (gas given, no estimate): status 0, and the reason is on the inference.
    # (A prompt too long for the context is found by the node that tokenizes it.)
    tx_hash = w3.eth.send_transaction({"from": DEV0.address, "to": HUB, "data": calldata, "gas": 29_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 0 and receipt["logs"] == []
    record = result(node, "og_getInference", [tx_hash.to_0x_hex()])
    assert reason.split(" (")[0] in record["error"], record
    assert record["status"] == "failed"
    # The node keeps serving: a good inference right after works.
    ok = w3.eth.send_transaction({"from": DEV0.address, "to": HUB, "data": run_data(ids(node)["mlp"]), "gas": 1_000_000})
    assert w3.eth.wait_for_transaction_receipt(ok, timeout=30)["status"] == 1


def test_estimate_is_the_gas_used(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    tx = {"from": DEV0.address, "to": HUB, "data": run_data(ids(node)["mlp"])}
    gas = w3.eth.estimate_gas(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({**tx, "gas": gas}), timeout=30)
    assert receipt["status"] == 1 and receipt["gasUsed"] == gas


def test_eth_call_does_not_run_inference(node: Devnet) -> None:
    body = rpc(node, "eth_call", [{"to": HUB, "data": run_data(ids(node)["mlp"])}, "latest"])
    assert body["error"]["code"] == -32004 and "send a transaction" in body["error"]["message"]
