"""An LLM gateway's answer from request to settled batch: paid with x402, recorded on chain
(og_getInference by its id, its batch by the settling transaction), its signature checked by
the full node when the batch settles: an honest gateway's answer settles, a byzantine one's
(a signature over an output it did not deliver) is rejected and its node loses the bond. Then
the explorer shows both in headless Chromium."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import playwright.sync_api as playwright
import pytest
from web3 import Web3

from browser import chromium, shot, strict_page
from conftest import DEV_KEYS, wait_until
from og_devnet import Devnet
from og_devnet._core import Chain
from og_devnet.base.genesis import OPG_TOKEN, PERMIT2

expect = playwright.expect
SETTLEMENT = "0x00000000000000000000000000000000000000F6"
BATCH_SETTLED = "0x" + Web3.keccak(text="LLMBatchSettled(uint256,bytes32,uint256,uint256)").hex().removeprefix("0x")
BODY = {"model": "gpt-5", "messages": [{"role": "user", "content": "What settles later?"}], "max_tokens": 12, "temperature": 0.0}


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(zkml=False, nodes=2, llm_gateways=2, node_faults={1: "byzantine"}) as n:
        w3 = Web3(Web3.HTTPProvider(n.rpc_url))
        payer = w3.eth.account.from_key(DEV_KEYS[0]).address
        approve = {"to": OPG_TOKEN, "from": payer, "data": "0x095ea7b3" + PERMIT2[2:].lower().rjust(64, "0") + f"{10**19:064x}"}
        assert w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(approve))["status"] == 1  # type: ignore[arg-type]
        yield n


def rpc(node: Devnet, method: str, *params: Any) -> Any:
    body = httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=60).json()
    assert "error" not in body, body
    return body["result"]


def paid_chat(node: Devnet, gateway: int) -> httpx.Response:
    """402 → the SDK's x402 client signs → the paid answer, as og.LLM does it."""
    from opengradient.client.llm import LLM
    from x402.http.utils import decode_payment_required_header, encode_payment_signature_header

    url = node.gateways[gateway].endpoint + "/v1/chat/completions"
    with httpx.Client(verify=False, timeout=60) as c:
        challenge = c.post(url, json=BODY)
        assert challenge.status_code == 402, challenge.text
        required = decode_payment_required_header(challenge.headers["payment-required"])
        payload = asyncio.run(LLM._build_x402_client(DEV_KEYS[0]).create_payment_payload(required))
        answer = c.post(url, json=BODY, headers={"PAYMENT-SIGNATURE": encode_payment_signature_header(payload)})
    assert answer.status_code == 200, answer.text
    return answer


@pytest.fixture(scope="module")
def answers(node: Devnet) -> dict[str, Any]:
    stake = Chain.stake_address(node.gateways[1].owner)
    before = int(node.chain.balance(stake, "latest"))
    honest, byzantine = paid_chat(node, 0), paid_chat(node, 1)
    return {"honest": honest, "byzantine": byzantine, "stake": stake, "stake_before": before}


def settled(node: Devnet, record_id: str) -> dict[str, Any]:
    return wait_until(f"{record_id} final", lambda: (r := rpc(node, "og_getInference", record_id))["status"] in ("settled", "rejected") and r)


def test_an_answer_is_recorded_then_settled_in_its_batch(node: Devnet, answers: dict[str, Any]) -> None:
    honest = answers["honest"]
    record_id, batch_tx = honest.headers["x-og-inference-id"], honest.headers["x-settlement-tx-hash"]
    live = rpc(node, "og_getInference", record_id)
    assert live["status"] in ("delivered", "settled") and live["mode_name"] == "TEE" and live["kind"] == "chat"
    assert live["llm"]["tee_id"] == node.gateways[0].identity.tee_id and live["llm"]["batch_tx_hash"] == batch_tx
    assert live["llm"]["payment"]["payer"].lower() == Web3().eth.account.from_key(DEV_KEYS[0]).address.lower()
    assert live["output"]["content"] == honest.json()["choices"][0]["message"]["content"]
    final = settled(node, record_id)
    assert final["status"] == "settled" and final["trust_gap_ms"] >= 0 and final["t_settled"] >= final["t_result"]
    assert final["llm"]["merkle_root"] and final["llm"]["leaf"]
    receipt = rpc(node, "eth_getTransactionReceipt", batch_tx)
    (log,) = [lg for lg in receipt["logs"] if lg["topics"][0] == BATCH_SETTLED]
    assert log["address"].lower() == SETTLEMENT.lower() and log["data"][2:66] == final["llm"]["merkle_root"][2:]
    batch = rpc(node, "og_getInference", batch_tx)
    assert record_id in [c["id"] for c in batch.get("calls", [batch])]


def test_a_byzantine_answer_is_rejected_at_settlement_and_costs_its_node_the_bond(node: Devnet, answers: dict[str, Any]) -> None:
    lie = answers["byzantine"]
    final = settled(node, lie.headers["x-og-inference-id"])
    assert final["status"] == "rejected" and final["rejection_reason"].startswith("output_mismatch")
    bond = int(json.loads(node.chain.economics_json())["bond"], 16)
    assert int(final["slashed"]) == bond and answers["stake_before"] - int(node.chain.balance(answers["stake"], "latest")) == bond


def test_the_explorer_shows_an_llm_answer_from_request_to_settled_batch(node: Devnet, answers: dict[str, Any], tmp_path: Path) -> None:
    honest, lie = answers["honest"].headers["x-og-inference-id"], answers["byzantine"].headers["x-og-inference-id"]
    settled(node, honest), settled(node, lie)
    with chromium() as browser, strict_page(browser) as page:
        page.goto(node.url + "/")  # beside on-chain inferences, marked as LLM answers
        expect(page.locator(f'a[href="/inference/{honest}"]').first).to_be_visible()
        expect(page.locator('span.tag[title="answered by an LLM gateway over HTTPS"]').first).to_be_visible()
        page.goto(f"{node.url}/inference/{honest}")
        expect(page.get_by_test_id("sentence")).to_contain_text("the full node checked its signature and settled it in batch #")
        expect(page.get_by_test_id("llm-signature")).to_contain_text("verified by the full node")
        expect(page.get_by_test_id("llm-payment")).to_contain_text("OPG by")
        expect(page.get_by_test_id("llm-batch")).to_contain_text("#")
        expect(page.get_by_text("What settles later?").first).to_be_visible()
        shot(page, tmp_path, "llm-settled")
        page.goto(f"{node.url}/inference/{lie}")
        expect(page.get_by_test_id("llm-signature")).to_contain_text("rejected: output_mismatch")
        expect(page.get_by_test_id("sentence")).to_contain_text("Do not trust this answer")
        shot(page, tmp_path, "llm-rejected")
