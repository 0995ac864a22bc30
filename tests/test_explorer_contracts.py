"""The explorer shows contracts: an address with code says so (code size, creation
transaction), a transaction lists its internal calls (geth's callTracer) with calls to the
inference precompile marked, a revert shows its reason, and a contract's inference calls each
get their lane. API first, then one headless-Chromium pass over the same pages."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import playwright.sync_api as playwright
import pytest
import vyper
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3

from browser import chromium, shot, strict_page
from og_devnet import HUB_ABI, Devnet
from og_devnet.inference.fixedpoint import model_input

expect, Page = playwright.expect, playwright.Page
HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
PRECOMPILE = "0x00000000000000000000000000000000000000f4"
MODEL_INPUT = "((string,(int128,int128)[],uint32[])[],(string,string[])[])"
#: Two inference calls in one transaction (each its own PIPE job), and a revert with a reason.
SOURCE = """
# pragma version ~=0.4.3
last_size: public(uint256)

@external
def forward(a: Bytes[4096], b: Bytes[4096]):
    x: Bytes[8192] = raw_call(0x00000000000000000000000000000000000000F4, a, max_outsize=8192)
    y: Bytes[8192] = raw_call(0x00000000000000000000000000000000000000F4, b, max_outsize=8192)
    self.last_size = len(x) + len(y)

@external
def fail():
    raise "no luck today"
"""


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(block_time=0.1) as n:
        yield n


@pytest.fixture(scope="module")
def w3(node: Devnet) -> Web3:
    return Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))


def get(node: Devnet, path: str, status: int = 200) -> Any:
    r = httpx.get(node.url + path, timeout=60)
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()


def hexhash(tx: bytes) -> str:
    return "0x" + tx.hex().removeprefix("0x")


def request(mlp: str, x: list[float], mode: int = 0) -> bytes:
    """`runModelInference((mode, model, input))` calldata for the precompile."""
    numbers, _ = model_input({"input": np.array([x], dtype=np.float32)})
    tensors = [(t["name"], [(int(v), int(d)) for v, d in t["values"]], t["shape"]) for t in numbers]
    selector = function_signature_to_4byte_selector(f"runModelInference((uint8,string,{MODEL_INPUT}))")
    return selector + encode([f"(uint8,string,{MODEL_INPUT})"], [(mode, mlp, (tensors, []))])


@pytest.fixture(scope="module")
def deployed(node: Devnet, w3: Web3) -> dict[str, Any]:
    """The contract, its creation, a call that runs two inferences, and one that reverts."""
    compiled = vyper.compile_code(SOURCE, output_formats=["bytecode", "bytecode_runtime", "abi"])
    sender = w3.eth.accounts[0]
    deploy = w3.eth.send_transaction({"from": sender, "data": compiled["bytecode"], "gas": 1_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(deploy, timeout=60)
    assert receipt["status"] == 1, receipt
    address = receipt["contractAddress"]
    contract = w3.eth.contract(address=address, abi=compiled["abi"])
    mlp = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
    call = contract.functions.forward(request(mlp, [0.5, -1.0, 2.0, 0.25]), request(mlp, [1.0, 0.0, -0.5, 3.0])).transact(
        {"from": sender, "gas": 3_000_000}
    )
    assert w3.eth.wait_for_transaction_receipt(call, timeout=60)["status"] == 1
    fail = contract.functions.fail().transact({"from": sender, "gas": 200_000})
    assert w3.eth.wait_for_transaction_receipt(fail, timeout=60)["status"] == 0
    return {
        "address": address, "deploy": hexhash(deploy), "deploy_block": receipt["blockNumber"], "sender": sender,
        "runtime_size": (len(compiled["bytecode_runtime"]) - 2) // 2, "call": hexhash(call), "fail": hexhash(fail),
    }  # fmt: skip


# ---- API ----


def test_account_of_a_contract_has_its_code_size_and_creation(node: Devnet, deployed: dict[str, Any]) -> None:
    a = get(node, f"/api/accounts/{deployed['address']}")
    assert a["is_contract"] is True and a["code_size"] == deployed["runtime_size"] > 0
    assert a["creation_tx"] == deployed["deploy"] and a["creation_block"] == deployed["deploy_block"]
    assert a["native_contract"] is None
    # Its transactions include its own creation (a creation's `to` is empty).
    listed = {t["hash"]: t for t in a["txs"]}
    assert {deployed["deploy"], deployed["call"], deployed["fail"]} <= set(listed)
    assert listed[deployed["deploy"]]["to"] is None
    assert listed[deployed["deploy"]]["contract_address"] == deployed["address"].lower()

    eoa = get(node, f"/api/accounts/{deployed['sender']}")
    assert eoa["is_contract"] is False and eoa["code_size"] == 0 and eoa["creation_tx"] is None
    precompile = get(node, f"/api/accounts/{Web3.to_checksum_address(PRECOMPILE)}")
    assert precompile["is_contract"] is True and precompile["native_contract"] == "inference_precompile"
    assert precompile["creation_tx"] is None
    block = get(node, f"/api/blocks/{deployed['deploy_block']}")
    assert {t["hash"]: t["contract_address"] for t in block["transactions"]}[deployed["deploy"]] == deployed["address"].lower()


def test_creation_and_revert_in_the_tx(node: Devnet, deployed: dict[str, Any]) -> None:
    tx = get(node, f"/api/txs/{deployed['deploy']}")
    assert tx["to"] is None and tx["contract_address"].lower() == deployed["address"].lower() and tx["revert_reason"] is None
    frame = get(node, f"/api/txs/{deployed['deploy']}/calls")
    assert frame["type"] == "CREATE" and frame["to"].lower() == deployed["address"].lower() and frame["is_inference"] is False

    failed = get(node, f"/api/txs/{deployed['fail']}")
    assert failed["status"] == 0 and "no luck today" in failed["revert_reason"] and failed["contract_address"] is None
    frame = get(node, f"/api/txs/{deployed['fail']}/calls")
    assert frame["error"] and frame.get("calls", []) == []


def test_internal_calls_mark_the_inference_precompile(node: Devnet, deployed: dict[str, Any]) -> None:
    frame = get(node, f"/api/txs/{deployed['call']}/calls")
    assert frame["type"] == "CALL" and frame["to"].lower() == deployed["address"].lower() and not frame["is_inference"]
    assert int(frame["gasUsed"], 16) > 0 and frame["input"].startswith("0x")
    inner = frame["calls"]
    assert [c["to"].lower() for c in inner] == [PRECOMPILE, PRECOMPILE]
    assert [c["is_inference"] for c in inner] == [True, True] and [c["inference_call"] for c in inner] == [0, 1]
    assert all(c["from"].lower() == deployed["address"].lower() and "error" not in c for c in inner)

    # A plain transfer: one frame, no internal calls.
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    transfer = w3.eth.send_transaction({"from": w3.eth.accounts[1], "to": w3.eth.accounts[2], "value": 1})
    w3.eth.wait_for_transaction_receipt(transfer, timeout=60)
    frame = get(node, f"/api/txs/{hexhash(transfer)}/calls")
    assert frame["type"] == "CALL" and not frame.get("calls") and frame["is_inference"] is False


def test_calls_of_unknown_unmined_and_malformed_txs(node: Devnet, w3: Web3) -> None:
    assert "no transaction" in get(node, "/api/txs/0x" + "ab" * 32 + "/calls", 404)["detail"]
    assert "64 hex digits" in get(node, "/api/txs/0x12/calls", 422)["detail"]
    node.set_mining_mode("manual")
    try:
        pending = w3.eth.send_transaction({"from": w3.eth.accounts[3], "to": w3.eth.accounts[4], "value": 1})
        assert "not mined yet" in get(node, f"/api/txs/{hexhash(pending)}/calls", 404)["detail"]
    finally:
        node.set_mining_mode("interval", block_time=0.1)
    w3.eth.wait_for_transaction_receipt(pending, timeout=60)
    assert get(node, f"/api/txs/{hexhash(pending)}/calls")["type"] == "CALL"


def test_each_inference_call_of_a_contract_tx_has_its_record(node: Devnet, deployed: dict[str, Any]) -> None:
    """One inference record per precompile call, like runMany: the tx page draws a lane for each."""
    deadline = time.monotonic() + 60
    while (inf := get(node, f"/api/txs/{deployed['call']}")["inference"]) is None or inf.get("status") == "pending":
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert inf is not None, "no inference record for the contract's precompile calls"
    calls = inf["calls"] if inf.get("many") else [inf]
    assert [c.get("call_index") for c in calls] == [0, 1]
    assert all(c["tx_hash"].lower() == deployed["call"] for c in calls)
    assert get(node, f"/api/inferences/{deployed['call']}")["tx_hash"].lower() == deployed["call"]


# ---- browser ----


@pytest.fixture(scope="module")
def browser(node: Devnet) -> Iterator[playwright.Browser]:
    # Depends on `node` so the browser (and its open event streams) closes before the devnet.
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: playwright.Browser) -> Iterator[Page]:
    with strict_page(browser) as pg:
        yield pg


def test_contract_pages_in_the_browser(page: Page, node: Devnet, deployed: dict[str, Any], tmp_path: Path) -> None:
    # The address page: a contract, its code size, a link to its creation.
    page.goto(f"{node.url}/address/{deployed['address']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contract")
    expect(page.get_by_test_id("kind")).to_have_text("contract")
    expect(page.get_by_test_id("code-size")).to_have_text(f"{deployed['runtime_size']:,} bytes")
    creation = page.get_by_test_id("creation-tx").get_by_role("link").first
    expect(creation).to_have_attribute("href", f"/tx/{deployed['deploy']}")
    expect(page.get_by_role("cell", name="contract creation")).to_be_visible()
    shot(page, tmp_path, "contract-address")

    # Its creation: the contract it made, and a CREATE frame.
    creation.click()
    expect(page).to_have_url(f"{node.url}/tx/{deployed['deploy']}")
    expect(page.get_by_test_id("contract-created")).to_contain_text(deployed["address"].lower())
    expect(page.get_by_test_id("calls")).to_contain_text("CREATE")

    # The call: two internal calls to the precompile, each marked as an inference call.
    page.goto(f"{node.url}/tx/{deployed['call']}")
    calls = page.get_by_test_id("calls")
    expect(calls).to_contain_text("2 internal calls")
    expect(calls.get_by_test_id("inference-call")).to_have_text(["inference call 0", "inference call 1"])
    expect(calls.locator(f'a[title="{PRECOMPILE}"]')).to_have_count(2)
    # Each precompile call's inference record: its lane on the page, linked from its frame.
    expect(page.get_by_test_id("call-timeline")).to_have_count(2)
    expect(calls.get_by_role("link", name="timeline")).to_have_count(2)
    shot(page, tmp_path, "contract-call")

    # The revert: its reason.
    page.goto(f"{node.url}/tx/{deployed['fail']}")
    expect(page.get_by_test_id("revert-reason")).to_contain_text("no luck today")
    expect(page.get_by_text("reverted", exact=True)).to_be_visible()


def test_tx_page_draws_a_lane_per_inference_call(page: Page, node: Devnet, w3: Web3) -> None:
    """A hub runMany transaction: each call's timeline on the tx page, on one axis."""
    hub = w3.eth.contract(address=HUB, abi=json.loads(HUB_ABI.read_text()))
    mlp = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
    numbers = [("input", [(25, 2), (-15, 1), (3, 0), (125, 3)], [1, 4])]
    args = [[(mlp, 0, (numbers, [])), (mlp, 2, (numbers, []))]]
    tx = hexhash(hub.functions.runMany(*args).transact({"from": w3.eth.accounts[5]}))
    w3.eth.wait_for_transaction_receipt(tx, timeout=60)
    page.goto(f"{node.url}/tx/{tx}")
    expect(page.get_by_test_id("call-timeline")).to_have_count(2)
    expect(page.get_by_test_id("timeline")).to_have_count(2)
    expect(page.get_by_test_id("call-timeline").nth(1)).to_contain_text(re.compile("settled|delivered|pending"))
