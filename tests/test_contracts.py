"""User contracts on the devnet's EVM, written and driven the way users do: Vyper contracts
(tests/contracts/) deployed and called with web3.py's contract API (events, logs, filters,
revert reasons, custom errors, failed transactions, storage history), a contract that calls
the inference precompile at 0x…F4 inside its own transaction (PIPE pre-execution: the stored
result is what onnxruntime gives), contract state that survives `kill -9`, and the SDK's own
PriceHistoryInference bytecode."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import vyper
from eth_abi import decode, encode
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from conftest import DEV0, DEV1, free_port, result, rpc, start_cli, stop
from og_devnet import Devnet
from og_devnet.inference.catalog import FIXTURES
from og_devnet.inference.fixedpoint import array_to_fixed, from_fixed
from test_durability import _kill9

CONTRACTS = Path(__file__).parent / "contracts"
PRECOMPILE = "0x00000000000000000000000000000000000000F4"
HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
#: Registry.vy reverts with this Solidity-style custom error (Vyper has none of its own).
UNAUTHORIZED = {"type": "error", "name": "Unauthorized", "inputs": [{"name": "caller", "type": "address", "internalType": "address"}]}
X = np.array([[0.25, -1.5, 3.0, 0.125]], dtype=np.float32)


@pytest.fixture(scope="session")
def compiled() -> dict[str, dict[str, Any]]:
    """Every contract under tests/contracts/, compiled once per session."""
    formats = ["abi", "bytecode", "bytecode_runtime", "layout"]
    return {p.stem: vyper.compile_code(p.read_text(), output_formats=formats) for p in sorted(CONTRACTS.glob("*.vy"))}


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    """Interval mining with the fixture models (mlp.onnx) registered."""
    with Devnet(block_time=0.1) as n:
        yield n


def sdk_file(*parts: str) -> str:
    return files("opengradient").joinpath(*parts).read_text()


def slot(c: dict[str, Any], name: str) -> int:
    return c["layout"]["storage_layout"][name]["slot"]


def deploy(w3: Web3, abi: list[dict], bytecode: str, *args: Any) -> tuple[Contract, Any]:
    tx = w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args).transact({"from": DEV0.address})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1 and receipt["contractAddress"], receipt
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi), receipt


def mlp_id(node: Devnet) -> str:
    return next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")


# ---- 1. the web3.py contract workflow ----


def test_web3_contract_workflow_on_a_vyper_contract(node: Devnet, compiled: dict[str, dict[str, Any]]) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    c = compiled["Registry"]
    registry, deployed = deploy(w3, c["abi"] + [UNAUTHORIZED], c["bytecode"], 7)
    address = registry.address
    assert w3.eth.get_code(address).to_0x_hex() == c["bytecode_runtime"]
    assert registry.functions.value().call() == 7 and registry.functions.owner().call() == DEV0.address

    topic = Web3.keccak(text="Stored(address,uint256)").to_0x_hex()
    log_filter = w3.eth.filter({"address": address, "topics": [topic]})
    tx = registry.functions.store(42).transact({"from": DEV0.address})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1 and receipt["blockNumber"] > deployed["blockNumber"]
    (event,) = registry.events.Stored().process_receipt(receipt)
    assert event["args"] == {"setter": DEV0.address, "value": 42} and event["address"] == address
    assert registry.functions.value().call() == 42

    by_topic = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "topics": [topic]})
    by_address = w3.eth.get_logs({"fromBlock": deployed["blockNumber"], "toBlock": "latest", "address": address, "topics": [topic]})
    assert [log["transactionHash"] for log in by_address] == [tx] and tx in [log["transactionHash"] for log in by_topic]
    other_setter = "0x" + "00" * 12 + DEV1.address[2:].lower()
    assert w3.eth.get_logs({"fromBlock": 0, "address": address, "topics": [topic, other_setter]}) == []
    assert [log["transactionHash"] for log in log_filter.get_new_entries()] == [tx]

    # Storage history: the slot at the deployment block still holds the constructor's value.
    value_slot = slot(c, "value")
    assert int.from_bytes(w3.eth.get_storage_at(address, value_slot, deployed["blockNumber"]), "big") == 7
    assert int.from_bytes(w3.eth.get_storage_at(address, value_slot, "latest"), "big") == 42

    # A revert reason, at call and at estimate.
    with pytest.raises(ContractLogicError, match="x must be positive") as e:
        registry.functions.store(0).call({"from": DEV0.address})
    assert not isinstance(e.value, ContractCustomError) and str(e.value.data).startswith("0x08c379a0")
    with pytest.raises(ContractLogicError, match="x must be positive"):
        registry.functions.store(0).estimate_gas({"from": DEV0.address})

    # A custom error: its data is selector ‖ abi-encoded arguments.
    expected = "0x" + (Web3.keccak(text="Unauthorized(address)")[:4] + encode(["address"], [DEV1.address])).hex()
    for attempt in (registry.functions.set_owner(DEV1.address).call, registry.functions.set_owner(DEV1.address).estimate_gas):
        with pytest.raises(ContractCustomError) as custom:
            attempt({"from": DEV1.address})
        assert custom.value.data == expected
    assert decode(["address"], bytes.fromhex(expected[10:]))[0].lower() == DEV1.address.lower()

    # Mined anyway (explicit gas, so no estimate stops it): status 0, storage untouched.
    failed = registry.functions.store(0).transact({"from": DEV0.address, "gas": 100_000})
    failed_receipt = w3.eth.wait_for_transaction_receipt(failed, timeout=30)
    assert failed_receipt["status"] == 0 and failed_receipt["logs"] == []
    raw = result(node, "eth_getTransactionReceipt", [failed.to_0x_hex()])
    assert "x must be positive" in raw.get("revertReason", ""), raw
    assert registry.functions.value().call() == 42
    assert int.from_bytes(w3.eth.get_storage_at(address, value_slot, "latest"), "big") == 42

    # The native contracts answer extcodesize checks.
    assert len(w3.eth.get_code(PRECOMPILE)) > 0 and len(w3.eth.get_code(HUB)) > 0


# ---- 2. a contract that calls the inference precompile ----


def onnx_first_number() -> tuple[int, int]:
    """The first output number as the node carries it: onnxruntime's float32 as (value, decimals)."""
    out = ort.InferenceSession(str(FIXTURES / "mlp.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": X})[0]
    value, decimals = array_to_fixed(out)[0]
    assert np.float32(from_fixed(value, decimals)) == out.flatten()[0]
    return int(value), int(decimals)


def run_predictor(node: Devnet, compiled: dict[str, dict[str, Any]], mode: int) -> tuple[Web3, Contract, Any]:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    c = compiled["Predictor"]
    predictor, _ = deploy(w3, c["abi"], c["bytecode"], mlp_id(node))
    x = [(int(v), int(d)) for v, d in array_to_fixed(X)]
    tx = predictor.functions.predict(mode, x, list(X.shape)).transact({"from": DEV0.address})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=60)
    assert receipt["status"] == 1, result(node, "eth_getTransactionReceipt", [tx.to_0x_hex()])
    return w3, predictor, receipt


def wait_settled(node: Devnet, tx: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (record := result(node, "og_getInference", [tx])) is None or record["status"] != "settled":
        if time.monotonic() > deadline:
            raise AssertionError(f"og_getInference({tx}) stayed {record and record['status']!r}: {record}")
        time.sleep(0.05)
    return record


def test_contract_calls_the_inference_precompile_and_stores_what_onnxruntime_returns(
    node: Devnet, compiled: dict[str, dict[str, Any]]
) -> None:
    w3, predictor, receipt = run_predictor(node, compiled, mode=0)
    expected = onnx_first_number()
    # The real execution was served the node's output, not the simulation's placeholder.
    assert (predictor.functions.value().call(), predictor.functions.decimals().call()) == expected
    assert predictor.functions.simulated().call() is False
    (ours,) = predictor.events.Predicted().process_receipt(receipt, errors=DISCARD)
    assert (ours["args"]["value"], ours["args"]["decimals"]) == expected and ours["args"]["caller"] == DEV0.address
    precompile = w3.eth.contract(address=PRECOMPILE, abi=json.loads(sdk_file("abi", "InferencePrecompile.abi")))
    (inference,) = precompile.events.ModelInferenceEvent().process_receipt(receipt, errors=DISCARD)
    assert inference["address"] == PRECOMPILE
    assert inference["args"]["request"]["modelCID"] == mlp_id(node) and inference["args"]["request"]["mode"] == 0
    response = inference["args"]["response"]
    assert response["is_simulation_result"] is False
    first = response["numbers"][0]["values"][0]
    assert (first["value"], first["decimals"]) == expected

    tx = receipt["transactionHash"].to_0x_hex()
    record = result(node, "og_getInference", [tx])
    assert record is not None, f"og_getInference({tx}) is null for a mined contract transaction that called 0xF4"
    (call,) = record.get("calls") or [record]
    assert call["model_id"] == mlp_id(node) and call["mode"] == 0
    assert [int(v) for v in call["output"]["numbers"][0]["values"][0]] == list(expected)

    # geth's call tracer shows the call into 0x..F4, its input and the served output.
    trace = result(node, "debug_traceTransaction", [tx, {"tracer": "callTracer"}])
    assert trace["to"].lower() == predictor.address.lower() and trace["type"] == "CALL"
    (inner,) = [f for f in trace.get("calls", []) if f["to"].lower() == PRECOMPILE.lower()]
    signature = "runModelInference((uint8,string,((string,(int128,int128)[],uint32[])[],(string,string[])[])))"
    assert inner["input"][:10] == Web3.keccak(text=signature)[:4].to_0x_hex()
    assert decode(["((string,(int128,int128)[],uint32[])[],(string,string[])[],(string,string)[],bool)"], bytes.fromhex(inner["output"][2:]))[0][0][0][1][0] == expected
    blocks = result(node, "debug_traceBlockByNumber", [hex(receipt["blockNumber"]), {"tracer": "callTracer"}])
    assert tx in [b["txHash"] for b in blocks]

    # eth_call of a function that calls inference runs it through PIPE and answers with it.
    x = [(int(v), int(d)) for v, d in array_to_fixed(X)]
    assert predictor.functions.peek(x, list(X.shape)).call() == [*expected, False]


def test_a_tee_inference_from_a_contract_settles_with_a_trust_gap(node: Devnet, compiled: dict[str, dict[str, Any]]) -> None:
    _, predictor, receipt = run_predictor(node, compiled, mode=2)
    assert (predictor.functions.value().call(), predictor.functions.decimals().call()) == onnx_first_number()
    record = wait_settled(node, receipt["transactionHash"].to_0x_hex())
    (call,) = record.get("calls") or [record]
    assert call["mode"] == 2 and call["proof"]["kind"] == "tee"
    assert record["trust_gap_ms"] > 0 and record["t_settled"] >= record["t_result"]


# ---- 3. durability ----


def test_contract_code_and_storage_survive_kill_9(tmp_path: Path, compiled: dict[str, dict[str, Any]]) -> None:
    port = free_port()
    args = ("--automine", "--no-fixtures", "--no-zkml", "--state", str(tmp_path))
    c = compiled["Registry"]
    proc = start_cli(*args, port=port)
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}/"))
        registry, deployed = deploy(w3, c["abi"], c["bytecode"], 5)
        receipt = w3.eth.wait_for_transaction_receipt(registry.functions.store(99).transact({"from": DEV0.address}), timeout=30)
        assert receipt["status"] == 1
        value_slot = slot(c, "value")

        def observed() -> tuple[Any, ...]:
            return (
                w3.eth.get_code(registry.address),
                w3.eth.get_storage_at(registry.address, value_slot, "latest"),
                w3.eth.get_storage_at(registry.address, value_slot, deployed["blockNumber"]),
                registry.functions.value().call(),
                registry.functions.owner().call(),
            )

        before = observed()
        assert before[0].to_0x_hex() == c["bytecode_runtime"] and before[3] == 99
        assert int.from_bytes(before[2], "big") == 5
        _kill9(proc)

        proc = start_cli(*args, port=port)
        assert observed() == before
        assert w3.eth.get_transaction_receipt(receipt["transactionHash"])["status"] == 1
    finally:
        stop(proc)


# ---- 4. the SDK's own contract ----


def test_the_sdks_price_history_inference_bytecode_deploys_and_its_views_answer(node: Devnet) -> None:
    import opengradient as og

    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    abi = json.loads(sdk_file("abi", "PriceHistoryInference.abi"))
    bytecode = sdk_file("bin", "PriceHistoryInference.bin").strip()
    query = og.HistoricalInputQuery(base="ETH", quote="USD", total_candles=10, candle_duration_in_mins=30,
                                    order=og.CandleOrder.ASCENDING,
                                    candle_types=[og.CandleType.OPEN, og.CandleType.HIGH, og.CandleType.LOW, og.CandleType.CLOSE])  # fmt: skip
    workflow, _ = deploy(w3, abi, bytecode, mlp_id(node), "open_high_low_close", query.to_abi_format())
    assert len(w3.eth.get_code(workflow.address)) > 0
    views = [f["name"] for f in abi if f["type"] == "function" and f["stateMutability"] == "view" and not f["inputs"]]
    assert sorted(views) == ["getInferenceResult", "historicalContract", "inputName", "inputQuery", "modelId"]
    answers = {name: getattr(workflow.functions, name)().call() for name in views}
    assert answers["modelId"] == mlp_id(node) and answers["inputName"] == "open_high_low_close"
    assert list(answers["inputQuery"]) == ["ETH", "USD", 10, 30, 0]
    assert Web3.is_address(answers["historicalContract"])
    numbers, strings, jsons, simulated = answers["getInferenceResult"]
    assert (numbers, strings, jsons, simulated) == ([], [], [], False), "nothing has run yet"


def test_an_eth_call_whose_inference_cannot_finish_times_out_clearly(compiled: dict[str, dict[str, Any]]) -> None:
    with Devnet(mining="auto", node_faults={i: "down" for i in range(4)}, call_timeout=0.5) as down:
        w3 = Web3(Web3.HTTPProvider(down.rpc_url))
        c = compiled["Predictor"]
        predictor, _ = deploy(w3, c["abi"], c["bytecode"], mlp_id(down))
        x = [(int(v), int(d)) for v, d in array_to_fixed(X)]
        call = predictor.functions.peek(x, list(X.shape))._encode_transaction_data()
        reply = rpc(down, "eth_call", [{"to": predictor.address, "data": call}, "latest"])
        assert reply["error"]["code"] == -32000 and "did not finish within 0.5 s" in reply["error"]["message"], reply
        # Its jobs were given up: nothing is left racing for it.
        assert result(down, "og_pipeStats", [])["active"] == 0


def test_create2_value_and_a_reverting_constructor(node: Devnet, compiled: dict[str, dict[str, Any]]) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    c = compiled["Factory"]
    # A constructor that reverts: refused at estimate with its reason.
    with pytest.raises(ContractLogicError, match="fee too high"):
        w3.eth.contract(abi=c["abi"], bytecode=c["bytecode"]).constructor(100).transact({"from": DEV0.address})
    factory, _ = deploy(w3, c["abi"], c["bytecode"], 5)
    registry, _ = deploy(w3, compiled["Registry"]["abi"], compiled["Registry"]["bytecode"], 1)
    salt = b"\x01" * 32
    # CREATE2 is deterministic: the address a call predicts is the one the transaction makes.
    predicted = factory.functions.clone(registry.address, salt).call()
    receipt = w3.eth.wait_for_transaction_receipt(factory.functions.clone(registry.address, salt).transact({"from": DEV0.address}))
    assert receipt["status"] == 1 and factory.functions.last().call() == predicted
    assert w3.eth.get_code(predicted) == w3.eth.get_code(registry.address)
    # The same salt again collides: the clone fails and nothing changes.
    with pytest.raises(ContractLogicError):
        factory.functions.clone(registry.address, salt).call()
    # Calls with value.
    before = w3.eth.get_balance(factory.address)
    w3.eth.wait_for_transaction_receipt(factory.functions.deposit().transact({"from": DEV1.address, "value": 12345}))
    assert w3.eth.get_balance(factory.address) == before + 12345
    assert factory.functions.deposits(DEV1.address).call() == 12345
