"""anvil/hardhat development methods: mining control, snapshots, balances."""

from __future__ import annotations

import time

from web3 import Web3

from conftest import DEV0, RECIPIENT, result, rpc
from og_devnet import Devnet


def height(node: Devnet) -> int:
    return int(result(node, "eth_blockNumber"), 16)


def test_manual_mining_mines_exactly_what_is_asked(manual_node: Devnet) -> None:
    assert height(manual_node) == 0
    time.sleep(0.3)
    assert height(manual_node) == 0, "manual mode seals nothing by itself"
    assert result(manual_node, "evm_mine") == "0x0"
    assert height(manual_node) == 1
    assert result(manual_node, "anvil_mine", ["0x5"]) is None
    assert height(manual_node) == 6
    result(manual_node, "hardhat_mine", [])
    assert height(manual_node) == 7


def test_switching_mining_modes_at_run_time(manual_node: Devnet) -> None:
    assert result(manual_node, "anvil_getAutomine") is False
    result(manual_node, "evm_setIntervalMining", [0.05])
    deadline = time.monotonic() + 5
    while height(manual_node) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert height(manual_node) >= 3
    result(manual_node, "evm_setAutomine", [True])
    assert result(manual_node, "anvil_getAutomine") is True
    h = height(manual_node)
    time.sleep(0.2)
    assert height(manual_node) == h, "automine seals only for transactions"
    tx = result(manual_node, "eth_sendTransaction", [{"from": DEV0.address, "to": RECIPIENT, "value": "0x1"}])
    assert result(manual_node, "eth_getTransactionReceipt", [tx])["status"] == "0x1"
    assert height(manual_node) == h + 1
    result(manual_node, "evm_setAutomine", [False])
    result(manual_node, "eth_sendTransaction", [{"from": DEV0.address, "to": RECIPIENT, "value": "0x1"}])
    assert height(manual_node) == h + 1


def test_snapshot_and_revert_restore_balances_and_height(manual_node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(manual_node.rpc_url))
    manual_node.mine(2)
    balance = w3.eth.get_balance(DEV0.address)
    snap = result(manual_node, "evm_snapshot")
    tx = w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 10**18})
    manual_node.mine(3)
    result(manual_node, "anvil_setBalance", [RECIPIENT, hex(5)])
    assert w3.eth.block_number == 5 and w3.eth.get_balance(RECIPIENT) == 5
    assert result(manual_node, "evm_revert", [snap]) is True
    assert w3.eth.block_number == 2
    assert w3.eth.get_balance(DEV0.address) == balance
    assert w3.eth.get_balance(RECIPIENT) == 0
    assert w3.eth.get_transaction_count(DEV0.address, "pending") == 0
    assert result(manual_node, "eth_getTransactionReceipt", [tx.to_0x_hex()]) is None
    # The snapshot is used up, even after a new snapshot is taken; new blocks continue from
    # the reverted height.
    assert result(manual_node, "evm_revert", [snap]) is False
    assert result(manual_node, "evm_snapshot") != snap
    assert result(manual_node, "evm_revert", [snap]) is False
    manual_node.mine(1)
    assert w3.eth.block_number == 3
    assert w3.eth.get_block(3)["parentHash"] == w3.eth.get_block(2)["hash"]


def test_set_balance_and_nonce(manual_node: Devnet) -> None:
    result(manual_node, "anvil_setBalance", [RECIPIENT, hex(10**20)])
    assert int(result(manual_node, "eth_getBalance", [RECIPIENT, "latest"]), 16) == 10**20
    result(manual_node, "anvil_setNonce", [DEV0.address, "0x7"])
    assert result(manual_node, "eth_getTransactionCount", [DEV0.address, "latest"]) == "0x7"
    bad = rpc(manual_node, "anvil_setBalance", [RECIPIENT, "0x" + "f" * 65])
    assert bad["error"]["code"] == -32602


def test_status_over_rest_and_rpc(manual_node: Devnet) -> None:
    import httpx

    manual_node.mine(2)
    status = httpx.get(manual_node.url + "/api/status").json()
    assert status["block_number"] == 2 and status["mining"]["mode"] == "manual"
    assert status["contracts"]["inference_hub"] == "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
    assert result(manual_node, "anvil_nodeInfo")["chain_id"] == 10744
    page = httpx.get(manual_node.url + "/")
    assert page.status_code == 200 and "og-devnet" in page.text
