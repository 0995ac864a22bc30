"""Every bad input gets its JSON-RPC code and a readable message, and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from eth_account import Account

from conftest import DEV0, RECIPIENT, result, rpc
from og_devnet import Devnet

CHAIN_ID = 10744


def snapshot_of_state(node: Devnet) -> dict[str, Any]:
    return {
        "height": result(node, "eth_blockNumber"),
        "balances": [result(node, "eth_getBalance", [a, "latest"]) for a in (DEV0.address, RECIPIENT)],
        "nonce": result(node, "eth_getTransactionCount", [DEV0.address, "latest"]),
        "pending_nonce": result(node, "eth_getTransactionCount", [DEV0.address, "pending"]),
        "pool": result(node, "txpool_status"),
    }


def signed(nonce: int = 0, key: str | None = None, **fields: Any) -> str:
    tx = {"to": RECIPIENT, "value": 1, "gas": 21000, "gasPrice": 2 * 10**9, "nonce": nonce, "chainId": CHAIN_ID}
    tx.update(fields)
    account = Account.from_key(key) if key else DEV0
    return "0x" + account.sign_transaction(tx).raw_transaction.hex()


def with_bad_signature(raw_hex: str) -> str:
    raw = bytearray(bytes.fromhex(raw_hex[2:]))
    raw[-65:-33] = b"\xff" * 32  # r above the curve order: nothing can be recovered
    return "0x" + raw.hex()


@pytest.fixture
def node_with_history(manual_node: Devnet) -> Devnet:
    """One mined transfer, so nonce 0 is used."""
    result(manual_node, "eth_sendRawTransaction", [signed(0)])
    manual_node.mine(1)
    return manual_node


CASES = [
    ("malformed RLP", "eth_sendRawTransaction", lambda: ["0xdeadbeef"], -32000, "malformed transaction"),
    ("empty bytes", "eth_sendRawTransaction", lambda: ["0x"], -32000, "malformed transaction"),
    ("bad signature", "eth_sendRawTransaction", lambda: [with_bad_signature(signed(1))], -32000, "invalid transaction signature"),
    ("wrong chain id", "eth_sendRawTransaction", lambda: [signed(1, chainId=1)], -32000, "wrong chain id: this devnet is chain 10744, the transaction is for 1"),
    ("nonce too low", "eth_sendRawTransaction", lambda: [signed(0, value=2)], -32003, "nonce too low"),
    ("nonce too high", "eth_sendRawTransaction", lambda: [signed(1000)], -32003, "nonce too high"),
    ("insufficient funds", "eth_sendRawTransaction", lambda: [signed(0, key="0x" + "42" * 32)], -32003, "insufficient funds"),
    ("fee too low", "eth_sendRawTransaction", lambda: [signed(1, gasPrice=1)], -32003, "fee too low"),
    ("intrinsic gas too low", "eth_sendRawTransaction", lambda: [signed(1, gas=20000)], -32003, "intrinsic gas too low"),
    ("gas above block limit", "eth_sendRawTransaction", lambda: [signed(1, gas=40_000_000)], -32003, "exceeds the block gas limit"),
    ("initcode over EIP-3860", "eth_sendRawTransaction", lambda: [signed(1, to=b"", data="0x" + "00" * 49_153, gas=1_000_000)], -32602, "max initcode size exceeded"),
    ("not hex", "eth_sendRawTransaction", lambda: ["hello"], -32602, "expected 0x-prefixed hex"),
    ("locked account", "eth_sendTransaction", lambda: [{"from": "0x" + "42" * 20, "to": RECIPIENT}], -32000, "not unlocked"),
    ("unknown method", "eth_frobnicate", lambda: [], -32601, "does not exist"),
    ("bad address", "eth_getBalance", lambda: ["0x1234", "latest"], -32602, "expected a 20-byte 0x address"),
    ("bad block tag", "eth_getBalance", lambda: [DEV0.address, "tomorrow"], -32602, "expected a block number"),
    ("future block", "eth_getBalance", lambda: [DEV0.address, "0xffff"], -32602, "does not exist yet"),
    ("missing params", "eth_getTransactionReceipt", lambda: [], -32602, "missing parameter 0"),
    ("bad hash", "eth_getTransactionByHash", lambda: ["0x12"], -32602, "32-byte 0x hash"),
    ("named params", "eth_blockNumber", lambda: {"a": 1}, -32602, "positional array"),
    ("estimate over balance", "eth_estimateGas", lambda: [{"from": DEV0.address, "to": RECIPIENT, "value": hex(10**30)}], -32003, "insufficient funds"),
    ("reverting creation", "eth_call", lambda: [{"data": "0x60006000fd"}, "latest"], 3, "execution reverted"),
    ("bad revert id", "evm_revert", lambda: ["zz"], -32602, "hex quantity"),
    ("mine too many", "anvil_mine", lambda: [hex(10**6)], -32602, "between 1 and"),
    ("log range backwards", "eth_getLogs", lambda: [{"fromBlock": "0x1", "toBlock": "0x0"}], -32602, "after toBlock"),
    ("hex with newline", "eth_sendRawTransaction", lambda: ["0xabcd\n"], -32602, "expected 0x-prefixed hex"),
    ("block number over 64 bits", "eth_getBlockByNumber", lambda: ["0x10000000000000000", False], -32602, "out of range"),
    ("snapshot id over 64 bits", "evm_revert", lambda: ["0x10000000000000000"], -32602, "out of range"),
    ("huge mining interval", "evm_setIntervalMining", lambda: [1e300], -32602, "between 0 and 86400"),
    ("value overflows", "eth_sendTransaction", lambda: [{"from": DEV0.address, "to": RECIPIENT, "value": "0x" + "f" * 64, "gas": "0x5208"}], -32003, "insufficient funds"),
    ("foreign chain id", "eth_sendTransaction", lambda: [{"from": DEV0.address, "to": RECIPIENT, "chainId": "0x1"}], -32000, "wrong chain id"),
    ("more than the balance", "eth_sendRawTransaction", lambda: [signed(1, value=10_001 * 10**18)], -32003, "insufficient funds"),
]


@pytest.mark.parametrize(("name", "method", "params", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    node_with_history: Devnet, name: str, method: str, params: Any, code: int, message: str
) -> None:
    node = node_with_history
    before = snapshot_of_state(node)
    body = rpc(node, method, params())
    assert "result" not in body, body
    assert body["error"]["code"] == code, body
    assert message in body["error"]["message"], body
    assert snapshot_of_state(node) == before
    node.mine(1)  # nothing slipped into the pool either: the next block is empty
    assert result(node, "eth_getBlockByNumber", ["latest", False])["transactions"] == []


def test_envelope_errors(manual_node: Devnet) -> None:
    url = manual_node.rpc_url
    r = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert r.json()["error"]["code"] == -32700
    assert httpx.post(url, json={"id": 1, "method": "eth_chainId"}).json()["error"]["code"] == -32600
    assert httpx.post(url, json=[]).json()["error"]["code"] == -32600
    assert httpx.post(url, json=[1, 2]).json()[1]["error"]["code"] == -32600
    # A notification gets no answer; a batch mixes results and errors in order of ids.
    assert httpx.post(url, json={"jsonrpc": "2.0", "method": "eth_chainId"}).status_code == 204
    mixed = httpx.post(url, json=[
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
    ]).json()  # fmt: skip
    assert "result" in mixed[0] and mixed[1]["error"]["code"] == -32601


def test_replacement_needs_higher_fee(manual_node: Devnet) -> None:
    result(manual_node, "eth_sendRawTransaction", [signed(0)])
    body = rpc(manual_node, "eth_sendRawTransaction", [signed(0, value=7)])
    assert body["error"]["code"] == -32003 and "underpriced" in body["error"]["message"]
    again = rpc(manual_node, "eth_sendRawTransaction", [signed(0)])
    assert "already known" in again["error"]["message"]
    # A 10% bump replaces it.
    result(manual_node, "eth_sendRawTransaction", [signed(0, value=7, gasPrice=3 * 10**9)])
    manual_node.mine(1)
    assert int(result(manual_node, "eth_getBalance", [RECIPIENT, "latest"]), 16) == 7


def test_nonce_gap_is_held_back_until_filled(manual_node: Devnet) -> None:
    result(manual_node, "eth_sendRawTransaction", [signed(1)])
    manual_node.mine(1)
    assert result(manual_node, "eth_getBlockByNumber", ["latest", False])["transactions"] == []
    assert result(manual_node, "txpool_status") == {"pending": "0x0", "queued": "0x1"}
    result(manual_node, "eth_sendRawTransaction", [signed(0)])
    manual_node.mine(1)
    assert len(result(manual_node, "eth_getBlockByNumber", ["latest", False])["transactions"]) == 2


def test_higher_tip_goes_first(manual_node: Devnet) -> None:
    from conftest import DEV1

    low = result(manual_node, "eth_sendRawTransaction", [signed(0, gasPrice=2 * 10**9)])
    high = result(manual_node, "eth_sendRawTransaction", [signed(0, key=DEV1.key.hex(), gasPrice=5 * 10**9)])
    manual_node.mine(1)
    assert result(manual_node, "eth_getBlockByNumber", ["latest", False])["transactions"] == [high, low]


def test_pooled_transactions_must_be_affordable_together(manual_node: Devnet) -> None:
    result(manual_node, "eth_sendRawTransaction", [signed(0, value=6_000 * 10**18)])
    body = rpc(manual_node, "eth_sendRawTransaction", [signed(1, value=6_000 * 10**18)])
    assert body["error"]["code"] == -32003 and "insufficient funds" in body["error"]["message"]
    manual_node.mine(1)
    assert len(result(manual_node, "eth_getBlockByNumber", ["latest", False])["transactions"]) == 1
