"""web3.py's usual flows against `og-devnet up` (a real subprocess), in every mining mode:
replacing a pending transaction, TransactionNotFound for an unmined one, filters, the pending
block, signing through the node, and a WebSocketProvider newHeads subscription."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from web3 import AsyncWeb3, Web3, WebSocketProvider
from web3.exceptions import TransactionNotFound

from conftest import DEV0, DEV_KEYS, RECIPIENT, free_port, start_cli, stop

MODES = {"interval": ["--block-time", "3"], "auto": ["--automine"], "manual": ["--no-mining"]}


@pytest.fixture(params=list(MODES), scope="module")
def devnet(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = start_cli(*MODES[request.param], "--no-fixtures", "--no-zkml", port=port)
    try:
        yield request.param, port
    finally:
        stop(proc)


def _w3(port: int) -> Web3:
    return Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}/"))


def _just_after_a_block(w3: Web3) -> None:
    """Interval mining: right after a block is sealed there are 3 s until the next one."""
    head = w3.eth.block_number
    while w3.eth.block_number == head:
        time.sleep(0.005)


def _mine_if_manual(w3: Web3, mode: str) -> None:
    if mode == "manual":
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _transfer(w3: Web3, key: str, nonce: int, tip_gwei: int, value: int = 1) -> bytes:
    acct = Account.from_key(key)
    tx = {"to": RECIPIENT, "value": value, "gas": 21000, "nonce": nonce, "chainId": w3.eth.chain_id,
          "maxFeePerGas": (10 * tip_gwei + 20) * 10**9, "maxPriorityFeePerGas": tip_gwei * 10**9}  # fmt: skip
    return acct.sign_transaction(tx).raw_transaction


def test_replacing_a_pending_transaction(devnet: tuple[str, int]) -> None:
    mode, port = devnet
    w3 = _w3(port)
    key = DEV_KEYS[1]
    address = Account.from_key(key).address
    if mode == "interval":
        _just_after_a_block(w3)
    nonce = w3.eth.get_transaction_count(address, "pending")
    first = w3.eth.send_raw_transaction(_transfer(w3, key, nonce, tip_gwei=1, value=1))
    if mode == "auto":
        # Automine mined it with the request: the same nonce now is simply too low.
        assert w3.eth.get_transaction_receipt(first)["status"] == 1
        with pytest.raises(Exception, match="nonce too low"):
            w3.eth.send_raw_transaction(_transfer(w3, key, nonce, tip_gwei=2, value=3))
        return
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(first)
    # An underpriced replacement is refused; a 10 % bump replaces it.
    with pytest.raises(Exception, match="underpriced"):
        w3.eth.send_raw_transaction(_transfer(w3, key, nonce, tip_gwei=1, value=2))
    second = w3.eth.send_raw_transaction(_transfer(w3, key, nonce, tip_gwei=2, value=3))
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction(first)
    _mine_if_manual(w3, mode)
    receipt = w3.eth.wait_for_transaction_receipt(second, timeout=10, poll_latency=0.05)
    assert receipt["status"] == 1
    assert w3.eth.get_transaction(second)["value"] == 3
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(first)


def test_receipt_of_an_unmined_transaction_raises_transaction_not_found(devnet: tuple[str, int]) -> None:
    mode, port = devnet
    w3 = _w3(port)
    key = DEV_KEYS[2]
    address = Account.from_key(key).address
    # A nonce gap keeps it unmined in every mode (automine included).
    gap = w3.eth.get_transaction_count(address, "pending") + 1
    tx_hash = w3.eth.send_raw_transaction(_transfer(w3, key, gap, tip_gwei=1))
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_receipt(tx_hash)
    # Fill the gap: both are mined.
    filler = w3.eth.send_raw_transaction(_transfer(w3, key, gap - 1, tip_gwei=1))
    _mine_if_manual(w3, mode)
    assert w3.eth.wait_for_transaction_receipt(filler, timeout=10, poll_latency=0.05)["status"] == 1
    _mine_if_manual(w3, mode)
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)["status"] == 1


def test_filters_the_pending_block_and_signing(devnet: tuple[str, int]) -> None:
    mode, port = devnet
    w3 = _w3(port)
    blocks = w3.eth.filter("latest")
    pending = w3.eth.filter("pending")
    if mode == "interval":
        _just_after_a_block(w3)
    tx_hash = w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 7})
    if mode != "auto":
        block = w3.eth.get_block("pending", full_transactions=False)
        assert block["number"] == w3.eth.block_number + 1
        assert tx_hash in block["transactions"]
    assert tx_hash in pending.get_new_entries()
    _mine_if_manual(w3, mode)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)
    assert receipt["blockHash"] in blocks.get_new_entries()
    # web3.py leaves blockTimestamp as the node sent it (hex), having no formatter for it yet.
    assert int(w3.eth.get_transaction(tx_hash)["blockTimestamp"], 16) == w3.eth.get_block(receipt["blockNumber"])["timestamp"]

    signature = w3.eth.sign(DEV0.address, text="hello devnet")
    assert Account.recover_message(encode_defunct(text="hello devnet"), signature=signature) == DEV0.address
    typed = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
                  "Mail": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}]},
        "primaryType": "Mail", "domain": {"name": "og-devnet", "chainId": w3.eth.chain_id},
        "message": {"to": RECIPIENT, "amount": 5},
    }  # fmt: skip
    signature = w3.eth.sign_typed_data(DEV0.address, typed)
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=signature) == DEV0.address


def test_websocket_provider_sees_new_heads(devnet: tuple[str, int]) -> None:
    mode, port = devnet
    w3_http = _w3(port)

    async def watch() -> list[int]:
        async with AsyncWeb3(WebSocketProvider(f"ws://127.0.0.1:{port}")) as w3:
            await w3.eth.subscribe("newHeads")
            start = await w3.eth.block_number
            # Make blocks in every mode: a transaction (automine), evm_mine (manual), time (interval).
            if mode == "auto":
                await w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 1})
            elif mode == "manual":
                await w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            seen = []
            async for message in w3.socket.process_subscriptions():
                seen.append(message["result"]["number"])
                if seen[-1] > start:
                    return seen

    seen = asyncio.run(asyncio.wait_for(watch(), timeout=15))
    assert seen[-1] <= w3_http.eth.block_number
    assert seen == sorted(seen)
