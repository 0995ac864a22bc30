"""og.LLM paid with x402 in devnet OPG: the unmodified SDK (a user's script, run as a user runs
it, with BASE_MAINNET_RPC exported) and the gateway's payment checks, each refused payment
answered 402 with nothing moved."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import DEV_KEYS, wait_until
from og_devnet import Devnet
from og_devnet.base.genesis import OPG_TOKEN, PERMIT2
from web3 import Web3

ROOT = Path(__file__).resolve().parents[1]
TRANSFER = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
CHAT = {"model": "gpt-5", "messages": [{"role": "user", "content": "Say something about proofs."}], "max_tokens": 16, "temperature": 0.0}
ERC20 = [
    {"name": "balanceOf", "type": "function", "stateMutability": "view", "inputs": [{"name": "a", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"name": "approve", "type": "function", "stateMutability": "nonpayable", "inputs": [{"name": "s", "type": "address"}, {"name": "v", "type": "uint256"}], "outputs": [{"name": "", "type": "bool"}]},
]  # fmt: skip


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(zkml=False, llm_gateways=1) as n:
        yield n


def opg(node: Devnet) -> Any:
    return Web3(Web3.HTTPProvider(node.rpc_url)).eth.contract(address=OPG_TOKEN, abi=ERC20)


def paid_transfers(node: Devnet, payer: str, from_block: int) -> list[dict[str, Any]]:
    """OPG Transfer logs out of `payer` since `from_block`, with their transactions' receipts."""
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    topic = "0x" + "0" * 24 + payer.lower().removeprefix("0x")
    logs = w3.eth.get_logs({"address": OPG_TOKEN, "fromBlock": from_block, "toBlock": "latest", "topics": [TRANSFER, topic]})
    return [{"amount": int(log["data"].hex(), 16), "tx": log["transactionHash"].hex(),
             "status": w3.eth.get_transaction_receipt(log["transactionHash"])["status"]} for log in logs]  # fmt: skip


def test_the_unmodified_sdk_pays_in_devnet_opg(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    payer = w3.eth.account.from_key(DEV_KEYS[2]).address
    start, before = w3.eth.block_number, opg(node).functions.balanceOf(payer).call()
    env = {**os.environ, "BASE_MAINNET_RPC": node.rpc_url}
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "og_llm.py"), "--rpc-url", node.rpc_url, "--key", DEV_KEYS[2],
                          "--json"], env=env, capture_output=True, text=True, timeout=240)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    # ensure_opg_approval approved Permit2 on the devnet (2 × 5 OPG), with a mined transaction.
    assert out["approval_tx"] and out["allowance_after"] == 10 * 10**18
    assert out["chat"] and out["chat"] == out["chat_again"] == out["stream"]
    assert out["completion"]
    call = out["tool_calls"][0]
    assert out["finish_reason_tool"] == "tool_calls" and call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"])["city"], str)
    verdict = json.loads(out["json"])
    assert verdict["verdict"] in ("valid", "invalid") and isinstance(verdict["confidence"], int)
    # The SDK read the data settlement's transaction: the batch that holds the answer's record.
    batch = httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "og_getInference", "params": [out["settlement_tx"]]}).json()["result"]
    records = batch.get("calls", [batch])
    assert any(r["output"]["content"] == out["chat"] and r["llm"]["batch_tx_hash"] == out["settlement_tx"] for r in records)
    # Six answers, six settlements: what the receipts moved is what the balance lost.
    paid = paid_transfers(node, payer, start)
    assert len(paid) == 6 and all(p["status"] == 1 and 0 < p["amount"] <= 10**17 for p in paid)
    assert before - opg(node).functions.balanceOf(payer).call() == sum(p["amount"] for p in paid)


def gateway_url(node: Devnet) -> str:
    return node.gateways[0].endpoint + "/v1/chat/completions"


def post(node: Devnet, headers: dict[str, str] | None = None, body: dict[str, Any] | None = None) -> httpx.Response:
    with httpx.Client(verify=False, timeout=60) as c:
        return c.post(gateway_url(node), json=body or CHAT, headers=headers or {})


def required(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 402, response.text
    return json.loads(base64.b64decode(response.headers["payment-required"]))


def sign(key: str, requirement: dict[str, Any]) -> str:
    """A payment exactly as og.LLM's x402 client makes it."""
    from opengradient.client.llm import LLM
    from x402.http.utils import encode_payment_signature_header
    from x402.schemas import PaymentRequired

    client = LLM._build_x402_client(key)
    payload = asyncio.run(client.create_payment_payload(PaymentRequired.model_validate(requirement)))
    return encode_payment_signature_header(payload)


def test_an_unpaid_request_gets_the_requirements_the_sdk_accepts(node: Devnet) -> None:
    req = required(post(node))
    (accept,) = req["accepts"]
    assert req["x402Version"] == 2 and "extensions" not in req
    assert (accept["scheme"], accept["network"], accept["asset"]) == ("upto", "eip155:8453", OPG_TOKEN)
    assert accept["payTo"] == node.gateways[0].owner and int(accept["amount"]) == 10**17
    assert accept["extra"]["facilitatorAddress"].startswith("0x")


def test_refused_payments_move_nothing(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    key = DEV_KEYS[1]
    payer = w3.eth.account.from_key(key).address
    token = opg(node)
    # No allowance to Permit2 yet: the 402 says what to do, naming BASE_MAINNET_RPC.
    requirement = required(post(node))
    refused = required(post(node, {"PAYMENT-SIGNATURE": sign(key, requirement)}))
    assert "BASE_MAINNET_RPC" in refused["error"]
    tx = token.functions.approve(PERMIT2, 10**18).transact({"from": payer})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    balance = token.functions.balanceOf(payer).call()
    # Forged: another account's signature over the same permit.
    good = sign(key, requirement)
    forged = json.loads(base64.b64decode(good))
    forged["payload"]["signature"] = json.loads(base64.b64decode(sign(DEV_KEYS[0], requirement)))["payload"]["signature"]
    assert required(post(node, {"PAYMENT-SIGNATURE": base64.b64encode(json.dumps(forged).encode()).decode()}))["error"]
    # Underpaid: a permit for less than the cap.
    low = json.loads(json.dumps(requirement))
    low["accepts"][0]["amount"] = "1000"
    assert required(post(node, {"PAYMENT-SIGNATURE": sign(key, low)}))["error"]
    # Garbage.
    assert required(post(node, {"PAYMENT-SIGNATURE": "not base64 json"}))["error"]
    assert token.functions.balanceOf(payer).call() == balance
    # Paid: 200, and a PAYMENT-RESPONSE naming the settlement; the same permit again: replayed.
    ok = post(node, {"PAYMENT-SIGNATURE": good})
    assert ok.status_code == 200, ok.text
    settled = json.loads(base64.b64decode(ok.headers["payment-response"]))
    receipt = w3.eth.get_transaction_receipt(settled["transaction"])
    assert receipt["status"] == 1 and balance - token.functions.balanceOf(payer).call() == int(settled["amount"]) > 0
    after = token.functions.balanceOf(payer).call()
    assert "already settled" in required(post(node, {"PAYMENT-SIGNATURE": good}))["error"]
    # A bad request with a good payment: 400, and the permit is not spent.
    fresh = sign(key, requirement)
    bad = post(node, {"PAYMENT-SIGNATURE": fresh}, {**CHAT, "max_tokens": -1})
    assert bad.status_code == 400 and token.functions.balanceOf(payer).call() == after
    assert post(node, {"PAYMENT-SIGNATURE": fresh}).status_code == 200


def test_a_client_gone_mid_stream_pays_nothing_and_the_gateway_keeps_serving(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    key = DEV_KEYS[0]
    payer = w3.eth.account.from_key(key).address
    tx = opg(node).functions.approve(PERMIT2, 10**18).transact({"from": payer})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    balance = opg(node).functions.balanceOf(payer).call()
    header = sign(key, required(post(node)))
    with httpx.Client(verify=False, timeout=60) as c:
        with c.stream("POST", gateway_url(node), json={**CHAT, "max_tokens": 200, "stream": True},
                      headers={"PAYMENT-SIGNATURE": header}) as r:  # fmt: skip
            assert r.status_code == 200
            first = next(line for line in r.iter_lines() if line.startswith("data: "))
            assert '"delta"' in first
        # Gone after the first delta: no settlement, no OPG moved; the permit is still good once
        # the gateway has noticed (until then it answers 402 nonce_in_use, which moves nothing).
        wait_until("the permit freed", lambda: post(node, {"PAYMENT-SIGNATURE": header}).status_code == 200, 30)
    paid = paid_transfers(node, payer, 0)
    assert len(paid) == 1 and balance - opg(node).functions.balanceOf(payer).call() == paid[0]["amount"]


def test_a_chain_clock_moved_past_the_permit_is_refused_before_the_answer() -> None:
    with Devnet(zkml=False, nodes=1, llm_gateways=1, mining="auto") as n:
        httpx.post(n.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "evm_increaseTime", "params": [3600]})
        httpx.post(n.rpc_url, json={"jsonrpc": "2.0", "id": 2, "method": "evm_mine", "params": []})
        refused = required(post(n, {"PAYMENT-SIGNATURE": sign(DEV_KEYS[0], required(post(n)))}))
        assert "past this permit's deadline" in refused["error"]
