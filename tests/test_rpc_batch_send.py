"""A JSON-RPC batch of raw transactions goes to the chain as one call (issue 13): each
request is answered exactly as the single call would answer it, and a bad one changes
nothing, neither for itself nor for the others."""

from __future__ import annotations

from typing import Any

import httpx
from eth_account import Account
from eth_utils import keccak
from og_devnet import Devnet
from og_devnet.rpc import dispatch

from conftest import DEV_KEYS, RECIPIENT

GWEI = 10**9


def _signed(key: str, nonce: int, chain_id: int, **over: Any) -> str:
    tx = {"to": RECIPIENT, "value": 1000 + nonce, "gas": 21000, "maxFeePerGas": 100 * GWEI, "maxPriorityFeePerGas": GWEI,
          "nonce": nonce, "chainId": chain_id, **over}  # fmt: skip
    return "0x" + bytes(Account.sign_transaction(tx, key).raw_transaction).hex()


def _requests(chain_id: int) -> list[dict[str, Any]]:
    k0, k1, k2 = DEV_KEYS
    raws = [
        _signed(k0, 0, chain_id),
        _signed(k0, 1, chain_id),
        "0xc0",  # malformed
        _signed(k0, 0, chain_id, value=5),  # replaces nonce 0 without a fee bump: refused
        _signed(k1, 0, chain_id, value=10**30),  # more than the account holds
        _signed(k1, 0, chain_id, chainId=1),  # another chain
        _signed(k1, 0, chain_id),  # the sender's good one, after its bad ones
        _signed(k1, 0, chain_id),  # the same again: already known
        _signed(k2, 500, chain_id),  # far ahead of the account's nonce
        _signed(k2, 0, chain_id, maxFeePerGas=1, maxPriorityFeePerGas=1),  # below the base fee
        _signed(k0, 2, chain_id),
    ]
    reqs: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]} for i, raw in enumerate(raws)
    ]
    reqs.insert(3, {"jsonrpc": "2.0", "id": "bad-params", "method": "eth_sendRawTransaction", "params": ["zz"]})
    reqs.insert(5, {"jsonrpc": "1.0", "id": "bad-version", "method": "eth_sendRawTransaction", "params": [raws[0]]})
    reqs.insert(6, {"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [_signed(k2, 0, chain_id)]})  # notification
    reqs.insert(7, {"jsonrpc": "2.0", "id": "obj", "method": "eth_sendRawTransaction", "params": {"x": 1}})
    return reqs


def _state(url: str, client: httpx.Client, raws: list[str]) -> dict[str, Any]:
    def call(method: str, params: list[Any]) -> Any:
        return client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()["result"]

    addresses = [Account.from_key(k).address for k in DEV_KEYS] + [RECIPIENT]
    return {
        "pool": call("txpool_status", []),
        "nonces": [call("eth_getTransactionCount", [a, "pending"]) for a in addresses],
        "pooled": [call("eth_getTransactionByHash", ["0x" + keccak(bytes.fromhex(r[2:])).hex()]) for r in raws],
    }


def _mined_state(url: str, client: httpx.Client) -> dict[str, Any]:
    def call(method: str, params: list[Any]) -> Any:
        return client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()["result"]

    call("evm_mine", [])
    block = call("eth_getBlockByNumber", ["latest", False])
    addresses = [Account.from_key(k).address for k in DEV_KEYS] + [RECIPIENT]
    return {
        "txs": block["transactions"],
        "nonces": [call("eth_getTransactionCount", [a, "latest"]) for a in addresses],
        "balance": call("eth_getBalance", [RECIPIENT, "latest"]),
    }


class _Counting:
    """The node's chain, counting how raw transactions reach it."""

    def __init__(self, chain: Any) -> None:
        self._chain, self.batches, self.singles = chain, [], 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    def submit_raw(self, raw: bytes) -> str:
        self.singles += 1
        return self._chain.submit_raw(raw)

    def submit_raw_batch(self, raws: list[bytes]) -> list[Any]:
        self.batches.append(len(raws))
        return self._chain.submit_raw_batch(raws)


def test_a_batch_of_raw_transactions_answers_each_as_single_calls_would(monkeypatch: Any) -> None:
    with Devnet(mining="manual", fixtures=False, zkml=False) as single, Devnet(mining="manual", fixtures=False, zkml=False) as batched:
        reqs = _requests(single.chain.chain_id)
        with httpx.Client(timeout=30) as client:
            one_by_one = [client.post(single.rpc_url, json=r) for r in reqs]
            singles = [r.json() for r in one_by_one if r.status_code == 200]
            assert [r.status_code for r in one_by_one].count(204) == 1  # the notification

            counting = _Counting(batched.chain)
            monkeypatch.setattr(batched, "chain", counting)
            answers = client.post(batched.rpc_url, json=reqs).json()
            assert answers == singles
            # The well-formed ones went to the chain in one call (the malformed JSON-RPC ones did not).
            assert (counting.batches, counting.singles) == ([len(reqs) - 3], 0)
            monkeypatch.undo()
            errors = {a["id"]: a["error"]["code"] for a in answers if "error" in a}
            assert len(errors) == 10, answers
            assert sorted(a["id"] for a in answers if "result" in a) == [0, 1, 6, 10]
            raws = [r["params"][0] for r in reqs if isinstance(r["params"], list) and r["params"][0].startswith("0x")]
            assert _state(batched.rpc_url, client, raws) == _state(single.rpc_url, client, raws)
            assert _mined_state(batched.rpc_url, client) == _mined_state(single.rpc_url, client)


def test_only_runs_of_raw_transactions_are_grouped() -> None:
    is_send = [dispatch._is_raw_send(r) for r in _requests(1)]
    assert all(is_send)
    assert not dispatch._is_raw_send({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert not dispatch._is_raw_send(["eth_sendRawTransaction"])
