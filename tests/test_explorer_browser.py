"""The explorer in a real browser (headless Chromium through Playwright): the live home page,
inference timelines that reach "settled" without a reload, search, back/forward, the teaching
view, both themes, and not one console error. Screenshots go to tmp_path and /tmp/explorer-shots/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import playwright.sync_api as playwright
import pytest
from web3 import Web3

from browser import chromium, shot, strict_page
from og_devnet import HUB_ABI, Devnet

expect, Page = playwright.expect, playwright.Page

HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
NUMBERS = [("input", [(25, 2), (-15, 1), (3, 0), (125, 3)], [1, 4])]  # 0.25, -1.5, 3, 0.125
VANILLA, TEE = 0, 2


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(block_time=0.2) as n:
        yield n


@pytest.fixture(scope="module")
def browser(node: Devnet) -> Iterator[playwright.Browser]:
    # Depends on `node` so the browser (and its open event streams) closes before the devnet.
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: playwright.Browser) -> Iterator[Page]:
    with strict_page(browser) as pg:
        yield pg


def send_inference(node: Devnet, mode: int) -> str:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    hub = w3.eth.contract(address=HUB, abi=json.loads(HUB_ABI.read_text()))
    mlp = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
    tx = hub.functions.run(mlp, mode, (NUMBERS, [])).transact({"from": w3.eth.accounts[0]})
    return "0x" + tx.hex().removeprefix("0x")


def test_inference_pages_show_the_trust_gap_and_settle_live(page: Page, node: Devnet, tmp_path: Path) -> None:
    node.set_mining_mode("manual")  # hold blocks back so the TEE page is open before settlement
    try:
        tee = send_inference(node, TEE)
        page.goto(f"{node.url}/inference/{tee}")
        expect(page.get_by_test_id("timeline")).to_be_visible()
        expect(page.get_by_test_id("status")).not_to_have_text("settled")
        expect(page.get_by_test_id("trust-gap")).to_have_text(re.compile(r"trust gap: .* so far"))
        shot(page, tmp_path, "inference-tee-open")
    finally:
        node.set_mining_mode("interval", block_time=0.2)
    expect(page.get_by_test_id("status")).to_have_text("settled", timeout=20_000)
    expect(page.get_by_test_id("trust-gap")).to_have_text(re.compile(r"^trust gap: \d+(\.\d+)? m?s$"))
    expect(page.get_by_test_id("sentence")).to_contain_text(re.compile(r"TEE attestation settled .* later in block \d+"))
    shot(page, tmp_path, "inference-tee-settled")

    vanilla = send_inference(node, VANILLA)
    page.goto(f"{node.url}/inference/{vanilla}")
    expect(page.get_by_test_id("status")).to_have_text("settled", timeout=20_000)
    expect(page.get_by_test_id("trust-gap")).to_be_visible()
    expect(page.get_by_test_id("sentence")).to_contain_text("never verified: you trust node-")
    shot(page, tmp_path, "inference-vanilla")


def test_search_finds_a_transaction_and_back_forward_work(page: Page, node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[1], "to": w3.eth.accounts[2], "value": 10**18})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    tx_hash = "0x" + tx.hex().removeprefix("0x")

    page.goto(node.url)
    page.get_by_role("searchbox").fill(tx_hash)
    page.get_by_role("searchbox").press("Enter")
    expect(page).to_have_url(f"{node.url}/tx/{tx_hash}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Transaction")
    expect(page.get_by_text("1 OPG", exact=True)).to_be_visible()

    page.get_by_role("link", name=f"#{receipt['blockNumber']}", exact=True).first.click()
    expect(page).to_have_url(f"{node.url}/block/{receipt['blockNumber']}")
    page.go_back()
    expect(page).to_have_url(f"{node.url}/tx/{tx_hash}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Transaction")
    page.go_back()
    expect(page.get_by_test_id("height")).to_be_visible()
    page.go_forward()
    page.go_forward()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Block #{receipt['blockNumber']}")


def test_teaching_view_races_the_modes_in_slow_motion(page: Page, node: Devnet, tmp_path: Path) -> None:
    page.goto(f"{node.url}/teach")
    page.get_by_role("radio", name="0.25×").check()
    page.get_by_role("button", name="Send a sample inference in each mode").click()
    expect(page.get_by_test_id("race-chart")).to_be_visible()
    for mode in ("VANILLA", "OPTIMISTIC", "TEE"):
        expect(page.get_by_test_id(f"lane-{mode}").get_by_test_id("timeline")).to_be_visible()
    shot(page, tmp_path, "teach-slow-motion")
    # At a quarter speed the TEE lane still gets to its settlement, just later.
    tee_status = page.get_by_test_id("lane-TEE").get_by_test_id("status")
    expect(tee_status).to_have_text("settled", timeout=20_000)
    page.get_by_role("radio", name="1×", exact=True).check()
    page.get_by_role("button", name="Dark theme").click()
    shot(page, tmp_path, "teach-dark")


def test_home_shows_the_chain_growing_live_in_both_themes(page: Page, node: Devnet, tmp_path: Path) -> None:
    # Last in the file, so the chart and the lists have the other tests' inferences to show.
    page.goto(node.url)
    height = page.get_by_test_id("height")
    expect(height).to_have_text(re.compile(r"^\d+$"))
    # The number grows with no reload: the page follows blocks through the event stream.
    page.wait_for_function("h => Number(document.querySelector('[data-testid=height]').textContent) > h",
                           arg=int(height.text_content()))
    expect(page.get_by_test_id("trust-gap-chart")).to_contain_text("settled")
    shot(page, tmp_path, "home-light")

    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()  # the choice is remembered
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_role("button", name="Light theme")).to_be_visible()
    shot(page, tmp_path, "home-dark")
    page.keyboard.press("Tab")  # keyboard users start at the skip link
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()


def test_a_node_page_says_which_device_each_runtime_uses_and_how_it_batches(page: Page, node: Devnet, tmp_path: Path) -> None:
    page.goto(f"{node.url}/node/0")
    devices = page.locator("dd", has_text="--device auto")
    expect(devices).to_contain_text("onnx on cpu")
    expect(devices).to_contain_text("gguf on cpu")
    expect(devices).to_contain_text("no NVIDIA GPU found")
    expect(page.locator("dd", has_text="window 1 ms")).to_contain_text("jobs in")
    shot(page, tmp_path, "node-devices")
