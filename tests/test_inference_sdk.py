"""The unmodified opengradient SDK (1.1.4) and plain web3.py run inference against the devnet,
and get exactly what onnxruntime / llama.cpp give for the same input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from web3 import Web3

from conftest import DEV_KEYS, DEV0
from og_devnet import Devnet
from og_devnet.inference.catalog import FIXTURES

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"


def hub_abi() -> list[dict]:
    """The ABI file the SDK ships (the same as shared/reference/.../inference.abi)."""
    import opengradient

    return json.loads((Path(opengradient.__file__).parent / "abi" / "inference.abi").read_text())


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(block_time=0.1) as n:
        yield n


def model_id(node: Devnet, name: str) -> str:
    return next(m["id"] for m in node.catalog.list() if m["name"] == name)


def onnx_direct(x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(FIXTURES / "mlp.onnx"), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def test_unmodified_sdk_infer_returns_what_onnxruntime_returns(node: Devnet) -> None:
    import opengradient as og

    alpha = og.Alpha(private_key=DEV_KEYS[0], rpc_url=node.rpc_url)
    x = np.array([[0.25, -1.5, 3.0, 0.125]], dtype=np.float32)
    result = alpha.infer(model_cid=model_id(node, "mlp"), inference_mode=og.InferenceMode.VANILLA, model_input={"input": x})
    got = np.asarray(result.model_output["output"], dtype=np.float32)
    np.testing.assert_array_equal(got, onnx_direct(x))
    record = node.inference("0x" + result.transaction_hash.removeprefix("0x"))
    assert record["status"] == "settled" and record["mode_name"] == "VANILLA"
    assert record["t_request"] <= record["t_result"] <= record["t_included"]


def test_sdk_surfaces_a_bad_input_as_an_error(node: Devnet) -> None:
    import opengradient as og

    alpha = og.Alpha(private_key=DEV_KEYS[1], rpc_url=node.rpc_url)
    with pytest.raises(Exception, match="has shape \\[1, 3\\], the model expects \\[1, 4\\]"):
        alpha.infer(model_cid=model_id(node, "mlp"), inference_mode=og.InferenceMode.VANILLA,
                    model_input={"input": np.zeros((1, 3), dtype=np.float32)}, max_retries=1)  # fmt: skip
    with pytest.raises(Exception, match="does not support ZKML inference .*: ZKML is not available for language models"):
        alpha.infer(model_cid=model_id(node, "tiny-llama"), inference_mode=og.InferenceMode.ZKML,
                    model_input={"input": np.zeros((1, 4), dtype=np.float32)}, max_retries=1)  # fmt: skip


def test_plain_web3_with_the_abi_file(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    hub = w3.eth.contract(address=HUB, abi=hub_abi())
    x = [[1.0, 2.0, -0.5, 0.0]]
    numbers = [("input", [(10, 1), (2, 0), (-5, 1), (0, 0)], [1, 4])]
    tx = hub.functions.run(model_id(node, "mlp"), 0, (numbers, [])).transact({"from": DEV0.address})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1
    (event,) = hub.events.InferenceResult().process_receipt(receipt)
    out = event["args"]["output"]
    values = [np.float32(v["value"] / 10 ** v["decimals"]) for v in out["numbers"][0]["values"]]
    np.testing.assert_array_equal(np.array(values, dtype=np.float32).reshape(1, 2), onnx_direct(np.array(x, dtype=np.float32)))
    assert out["is_simulation_result"] is False


def test_llm_completion_and_chat_are_deterministic_and_match_llama_cpp(node: Devnet) -> None:
    from llama_cpp import Llama

    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    hub = w3.eth.contract(address=HUB, abi=hub_abi())
    llm_id = model_id(node, "tiny-llama")

    def complete(prompt: str) -> str:
        tx = hub.functions.runLLMCompletion((0, llm_id, prompt, 24, [], 0)).transact({"from": DEV0.address})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt["status"] == 1
        return hub.events.LLMCompletionResult().process_receipt(receipt)[0]["args"]["response"]["answer"]

    def chat(text: str) -> str:
        messages = [("user", text, "", "", [])]
        tx = hub.functions.runLLMChat((0, llm_id, messages, [], "", 16, [], 0)).transact({"from": DEV0.address})
        receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt["status"] == 1
        return hub.events.LLMChatResult().process_receipt(receipt)[0]["args"]["response"]["message"]["content"]

    first, second = complete("the proof of the model"), complete("the proof of the model")
    assert first == second and first
    direct = Llama(str(FIXTURES / "tiny-llama.gguf"), n_ctx=512, seed=0, verbose=False)
    expected = direct.create_completion("the proof of the model", max_tokens=24, temperature=0)["choices"][0]["text"]
    assert first == expected
    c1, c2 = chat("verify the result"), chat("verify the result")
    assert c1 == c2
    direct.reset()
    expected_chat = direct.create_chat_completion(messages=[{"role": "user", "content": "verify the result"}],
                                                  max_tokens=16, temperature=0)["choices"][0]["message"]["content"]  # fmt: skip
    assert c1 == expected_chat


def test_the_precompile_answers_its_abi(node: Devnet) -> None:
    import opengradient

    abi = json.loads((Path(opengradient.__file__).parent / "abi" / "InferencePrecompile.abi").read_text())
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    pre = w3.eth.contract(address="0x00000000000000000000000000000000000000F4", abi=abi)
    request = (2, model_id(node, "mlp"), ([("input", [(1, 0), (2, 0), (3, 0), (4, 0)], [1, 4])], []))
    receipt = w3.eth.wait_for_transaction_receipt(pre.functions.runModelInference(request).transact({"from": DEV0.address}), timeout=30)
    (event,) = pre.events.ModelInferenceEvent().process_receipt(receipt)
    assert event["args"]["inferenceID"] == receipt["transactionHash"].to_0x_hex()
    expected = onnx_direct(np.array([[1, 2, 3, 4]], dtype=np.float32))
    got = [np.float32(v["value"] / 10 ** v["decimals"]) for v in event["args"]["response"]["numbers"][0]["values"]]
    np.testing.assert_array_equal(np.array(got, dtype=np.float32).reshape(1, 2), expected)
    assert node.inference(receipt["transactionHash"].to_0x_hex())["status"] in ("delivered", "settled")


def test_sdk_tee_inference_carries_a_verified_attestation(node: Devnet) -> None:
    import opengradient as og

    alpha = og.Alpha(private_key=DEV_KEYS[2], rpc_url=node.rpc_url)
    x = np.array([[1.0, -1.0, 0.5, 2.0]], dtype=np.float32)
    result = alpha.infer(model_cid=model_id(node, "mlp"), inference_mode=og.InferenceMode.TEE, model_input={"input": x})
    np.testing.assert_array_equal(np.asarray(result.model_output["output"], dtype=np.float32), onnx_direct(x))
    record = node.inference("0x" + result.transaction_hash.removeprefix("0x"))
    # Delivered with its block; settled by a later one (which may already have sealed).
    assert record["mode_name"] == "TEE" and record["status"] in ("delivered", "settled")
    proof = record["proof"]
    assert proof["kind"] == "tee" and proof["verified_at_result"] is True
    assert proof["module_id"] == f"og-devnet-node-{record['winner_node']}"


def test_tee_proof_settles_in_a_later_block_and_the_trust_gap_is_measured(node: Devnet) -> None:
    import opengradient as og

    alpha = og.Alpha(private_key=DEV_KEYS[2], rpc_url=node.rpc_url)
    result = alpha.infer(model_cid=model_id(node, "mlp"), inference_mode=og.InferenceMode.TEE,
                         model_input={"input": np.array([[3.0, 1.0, 4.0, 1.5]], dtype=np.float32)})  # fmt: skip
    tx = "0x" + result.transaction_hash.removeprefix("0x")
    deadline = time.monotonic() + 10
    while (record := node.inference(tx))["status"] != "settled" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert record["status"] == "settled", record
    assert record["settlement_block"] > record["block_number"], "the proof settles apart from the result"
    assert record["t_result"] <= record["t_proof_submitted"] <= record["t_included"] <= record["t_settled"]
    assert record["trust_gap_ms"] == record["t_settled"] - record["t_result"] > 0
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    assert w3.eth.get_block(record["settlement_block"])["number"] == record["settlement_block"]


def test_vanilla_settles_at_inclusion_without_a_guarantee(node: Devnet) -> None:
    import opengradient as og

    alpha = og.Alpha(private_key=DEV_KEYS[1], rpc_url=node.rpc_url)
    result = alpha.infer(model_cid=model_id(node, "mlp"), inference_mode=og.InferenceMode.VANILLA,
                         model_input={"input": np.zeros((1, 4), dtype=np.float32)})  # fmt: skip
    record = node.inference("0x" + result.transaction_hash.removeprefix("0x"))
    assert record["status"] == "settled" and record["t_settled"] == record["t_included"]
    assert record["verification"].startswith("none")


def test_the_tee_registry_answers_the_sdk_abi(node: Devnet) -> None:
    import opengradient
    from cryptography import x509

    abi = json.loads((Path(opengradient.__file__).parent / "abi" / "TEERegistry.abi").read_text())
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    registry = w3.eth.contract(address="0x703cB174AEadB35D611858369B4b1111dC9Abda6", abi=abi)
    # The nodes' enclaves are type 1 (Validator); type 0 (LLM proxy, what og.LLM picks from)
    # holds only the HTTPS LLM gateways (tests/test_llm_gateway.py).
    active = registry.functions.getActiveTEEs(1).call()
    assert [t[0] for t in active] == node.chain.pipe().node_addresses()
    owner, payment, endpoint, public_key, tls_cert, pcr_hash, tee_type, enabled, registered, heartbeat, ohttp = active[0]
    assert enabled and tee_type == 1 and payment == owner and registered > 0
    assert [t[2] for t in registry.functions.getActiveTEEs(0).call()] == [g.endpoint for g in node.gateways]
    assert public_key == node.nodes[0].enclave.public_key_der
    cert = x509.load_der_x509_certificate(tls_cert)
    assert "og-devnet-node-0" in cert.subject.rfc4514_string()
    tee_id = Web3.keccak(public_key)
    assert registry.functions.getTEE(tee_id).call()[3] == public_key
    assert registry.functions.isTEEActive(tee_id).call() is True
    assert registry.functions.isTEEEnabled(b"\x00" * 32).call() is False
    assert len(registry.functions.getEnabledTEEs(1).call()) == len(active) == len(registry.functions.getTEEsByType(1).call())
    assert registry.functions.getActiveTEEs(7).call() == []
    from web3.exceptions import ContractLogicError

    with pytest.raises(ContractLogicError, match="no TEE with id"):
        registry.functions.getTEE(b"\x01" * 32).call()
