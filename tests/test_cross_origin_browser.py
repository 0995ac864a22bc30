"""A web page on another origin, in a real browser (headless Chromium), tries to drive the
node: every state-changing JSON-RPC method as a `no-cors` text/plain "simple request" and as a
real JSON request (which needs a preflight), plus the state-changing REST routes. Nothing
changes. Served with --allow-origin for that page, the same page reads eth_chainId through a
proper CORS exchange."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import playwright.sync_api as playwright
import pytest
from conftest import DEV0, DEV_KEYS, RECIPIENT, node_state, result
from og_devnet import Devnet
from og_devnet.inference.catalog import FIXTURES

CHROMIUM = "/usr/bin/chromium"
PAGE = b"<!doctype html><title>some other site</title><p>nothing to see here</p>"


def call(method: str, params: list[Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


def signed_transfer() -> str:
    """Dev keys are public: a page can sign with them itself and send the raw transaction."""
    from eth_account import Account

    tx = {"to": RECIPIENT, "value": 10**21, "gas": 21000, "gasPrice": 10**10, "nonce": 0, "chainId": 10744}
    return "0x" + Account.from_key(DEV_KEYS[0]).sign_transaction(tx).raw_transaction.hex()


def state_changing_calls() -> list[dict[str, Any]]:
    new_model = (FIXTURES / "mlp.onnx").read_bytes() + b"\x32\x04evil"
    return [
        call("anvil_setBalance", [RECIPIENT, "0x1"]),
        call("hardhat_setBalance", [DEV0.address, "0x1"]),
        call("anvil_setNonce", [DEV0.address, "0x9"]),
        call("eth_sendTransaction", [{"from": DEV0.address, "to": RECIPIENT, "value": hex(10**21)}]),
        call("eth_sendRawTransaction", [signed_transfer()]),
        call("og_setNodeFault", [1, "down"]),
        call("og_registerModel", [{"data": "0x" + new_model.hex(), "name": "evil"}]),
        call("evm_mine", []),
        call("anvil_mine", ["0x2"]),
        call("evm_setAutomine", [True]),
        call("evm_setIntervalMining", [1]),
        call("evm_snapshot", []),
        call("evm_revert", ["0x1"]),
    ]





@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """A tiny site on another loopback port: the page that tries its luck."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright.Browser]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: playwright.Browser, page_origin: str) -> Iterator[playwright.Page]:
    context = browser.new_context()
    pg = context.new_page()
    pg.goto(page_origin + "/")
    yield pg
    context.close()


ATTACK = """
async ({rpc, calls, api, model}) => {
  const outcome = [];
  const attempt = async (what, url, init) => {
    try {
      const r = await fetch(url, init);
      // An opaque (no-cors) answer has status 0 and no body: the page learns nothing.
      outcome.push({what, status: r.status, type: r.type, body: r.type === "opaque" ? null : await r.text()});
    } catch (e) {
      outcome.push({what, error: String(e)});
    }
  };
  for (const body of calls) {
    const text = JSON.stringify(body);
    await attempt(body.method + " no-cors", rpc, {method: "POST", mode: "no-cors", headers: {"content-type": "text/plain"}, body: text});
    await attempt(body.method + " json", rpc, {method: "POST", headers: {"content-type": "application/json"}, body: text});
  }
  const form = () => { const f = new FormData(); f.append("file", new Blob([new Uint8Array(model)]), "evil.onnx"); f.append("name", "evil"); return f; };
  await attempt("upload no-cors", api + "/api/models", {method: "POST", mode: "no-cors", body: form()});
  await attempt("upload cors", api + "/api/models", {method: "POST", body: form()});
  await attempt("teach no-cors", api + "/api/teach/samples", {method: "POST", mode: "no-cors"});
  await attempt("teach cors", api + "/api/teach/samples", {method: "POST"});
  await attempt("read status", api + "/api/status", {});
  return outcome;
}
"""


def test_a_page_on_another_origin_changes_nothing(page: playwright.Page) -> None:
    with Devnet(mining="manual", zkml=False) as node:
        before = node_state(node)
        model = list((FIXTURES / "mlp.onnx").read_bytes() + b"\x32\x05evil2")
        outcome = page.evaluate(ATTACK, {"rpc": node.rpc_url, "calls": state_changing_calls(), "api": node.url, "model": model})
        assert node_state(node) == before
        # The browser got nothing it could read: opaque answers, or network errors (CORS).
        for o in outcome:
            assert "error" in o or o["type"] == "opaque", o
        assert len(outcome) == 2 * len(state_changing_calls()) + 5
        # And the same teaching button works from the node's own origin (the explorer).
        page.goto(node.url + "/teach")
        sent = page.evaluate("async () => (await fetch('/api/teach/samples', {method: 'POST'})).status")
        assert sent == 200
        assert int(result(node, "txpool_status")["pending"], 16) > 0


def test_an_allowed_origin_gets_a_proper_cors_exchange(page: playwright.Page, page_origin: str) -> None:
    with Devnet(mining="manual", fixtures=False, zkml=False, allow_origins=[page_origin]) as node:
        answer = page.evaluate(
            """async (rpc) => {
                 const r = await fetch(rpc, {method: "POST", headers: {"content-type": "application/json"},
                                             body: JSON.stringify({jsonrpc: "2.0", id: 1, method: "eth_chainId", params: []})});
                 return {status: r.status, body: await r.json()};
               }""",
            node.rpc_url,
        )
        # The browser let the page read the answer: the preflight and the response carried the
        # CORS headers it checks (a refused exchange throws a TypeError instead).
        assert answer == {"status": 200, "body": {"jsonrpc": "2.0", "id": 1, "result": "0x29f8"}}
