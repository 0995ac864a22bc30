"""web3.py against a running node: signed legacy and EIP-1559 transfers, unlocked accounts,
lookups, batches."""

from __future__ import annotations

import httpx
from web3 import Web3

from conftest import DEV0, DEV1, RECIPIENT, result
from og_devnet import Devnet


def _sign_legacy(w3: Web3, nonce: int, value: int) -> bytes:
    tx = {"to": RECIPIENT, "value": value, "gas": 21000, "gasPrice": w3.eth.gas_price, "nonce": nonce, "chainId": w3.eth.chain_id}
    return DEV0.sign_transaction(tx).raw_transaction


def _sign_1559(w3: Web3, nonce: int, value: int) -> bytes:
    tx = {
        "type": 2, "to": RECIPIENT, "value": value, "gas": 21000, "nonce": nonce, "chainId": w3.eth.chain_id,
        "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": w3.eth.max_priority_fee,
    }  # fmt: skip
    return DEV0.sign_transaction(tx).raw_transaction


def test_legacy_and_1559_transfers(manual_node: Devnet, w3: Web3) -> None:
    sender_before = w3.eth.get_balance(DEV0.address)
    recipient_before = w3.eth.get_balance(RECIPIENT)
    h_legacy = w3.eth.send_raw_transaction(_sign_legacy(w3, 0, 10**18))
    h_1559 = w3.eth.send_raw_transaction(_sign_1559(w3, 1, 2 * 10**18))
    assert w3.eth.get_transaction_count(DEV0.address, "pending") == 2
    assert w3.eth.get_transaction_count(DEV0.address) == 0
    # Pooled transactions are visible before they are mined, without a block.
    assert w3.eth.get_transaction(h_legacy)["blockNumber"] is None
    manual_node.mine(1)

    r_legacy = w3.eth.wait_for_transaction_receipt(h_legacy, timeout=10)
    r_1559 = w3.eth.wait_for_transaction_receipt(h_1559, timeout=10)
    assert r_legacy["status"] == 1 and r_1559["status"] == 1
    assert r_legacy["gasUsed"] == 21000 and r_1559["gasUsed"] == 21000
    assert r_legacy["type"] == 0 and r_1559["type"] == 2
    assert r_1559["cumulativeGasUsed"] == 42000 or r_legacy["cumulativeGasUsed"] == 42000
    fees = r_legacy["gasUsed"] * r_legacy["effectiveGasPrice"] + r_1559["gasUsed"] * r_1559["effectiveGasPrice"]
    # 1559 pays base fee + tip, capped by max fee.
    assert r_1559["effectiveGasPrice"] == min(3 * 10**9, w3.eth.get_block("latest")["baseFeePerGas"] + w3.eth.max_priority_fee)
    assert w3.eth.get_balance(DEV0.address) == sender_before - 3 * 10**18 - fees
    assert w3.eth.get_balance(RECIPIENT) == recipient_before + 3 * 10**18
    assert w3.eth.get_transaction_count(DEV0.address) == 2
    # Historical balance at the block before is unchanged.
    assert w3.eth.get_balance(DEV0.address, r_legacy["blockNumber"] - 1) == sender_before

    tx = w3.eth.get_transaction(h_1559)
    assert tx["from"] == DEV0.address and tx["to"] == Web3.to_checksum_address(RECIPIENT)
    assert tx["blockHash"] == r_1559["blockHash"] and tx["value"] == 2 * 10**18
    block = w3.eth.get_block(r_legacy["blockHash"], full_transactions=True)
    assert {t["hash"] for t in block["transactions"]} == {h_legacy, h_1559}
    assert block["number"] == w3.eth.block_number
    assert w3.eth.get_block(block["number"])["hash"] == block["hash"]
    assert w3.eth.get_block(block["number"])["parentHash"] == w3.eth.get_block(block["number"] - 1)["hash"]


def test_tx_hash_is_keccak_of_raw(manual_node: Devnet, w3: Web3) -> None:
    raw = _sign_1559(w3, 0, 1)
    assert w3.eth.send_raw_transaction(raw) == Web3.keccak(raw)


def test_send_transaction_from_unlocked_account(manual_node: Devnet, w3: Web3) -> None:
    assert w3.eth.accounts[1] == DEV1.address
    h = w3.eth.send_transaction({"from": DEV1.address, "to": RECIPIENT, "value": 12345})
    manual_node.mine(1)
    receipt = w3.eth.wait_for_transaction_receipt(h, timeout=10)
    assert receipt["status"] == 1 and receipt["from"] == DEV1.address
    assert w3.eth.get_balance(RECIPIENT) == 12345
    h2 = w3.eth.send_transaction({"from": DEV1.address, "to": RECIPIENT, "value": 1, "gasPrice": 2 * 10**9})
    manual_node.mine(1)
    assert w3.eth.get_transaction(h2)["type"] == 0 and w3.eth.get_transaction(h2)["nonce"] == 1


def test_automine_mines_each_request(auto_node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(auto_node.rpc_url))
    before = w3.eth.block_number
    h = w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 1})
    # The receipt is there as soon as the request returns.
    assert w3.eth.get_transaction_receipt(h)["status"] == 1
    assert w3.eth.block_number == before + 1


def test_batch_of_100_requests(manual_node: Devnet) -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_getBalance", "params": [DEV0.address, "latest"]} for i in range(50)]
    batch += [{"jsonrpc": "2.0", "id": 50 + i, "method": "eth_sendTransaction", "params": [{"from": DEV0.address, "to": RECIPIENT, "value": hex(1)}]} for i in range(50)]
    r = httpx.post(manual_node.rpc_url, json=batch, timeout=30)
    answers = r.json()
    assert len(answers) == 100
    assert sorted(a["id"] for a in answers) == list(range(100))
    assert all("result" in a for a in answers), [a for a in answers if "error" in a][:3]
    manual_node.mine(1)
    assert int(result(manual_node, "eth_getTransactionCount", [DEV0.address, "latest"]), 16) == 50
    block = result(manual_node, "eth_getBlockByNumber", ["latest", False])
    assert len(block["transactions"]) == 50


def test_chain_info_methods(manual_node: Devnet, w3: Web3) -> None:
    assert w3.eth.chain_id == 10744
    assert result(manual_node, "net_version", []) == "10744"
    assert result(manual_node, "web3_clientVersion", []).startswith("og-devnet/v")
    assert w3.eth.gas_price == 2 * 10**9
    assert w3.eth.max_priority_fee == 10**9
    manual_node.mine(3)
    hist = w3.eth.fee_history(3, "latest", [25, 75])
    assert hist["oldestBlock"] == 1 and len(hist["baseFeePerGas"]) == 4 and len(hist["reward"]) == 3
    assert w3.eth.estimate_gas({"from": DEV0.address, "to": RECIPIENT, "value": 1}) == 21000
    assert w3.eth.estimate_gas({"from": DEV0.address, "to": RECIPIENT, "data": "0x0001"}) == 21000 + 4 + 16
    # Native contracts show code; plain accounts none.
    assert w3.eth.get_code("0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE") == b"\xfe"
    assert w3.eth.get_code(RECIPIENT) == b""
    # eth_call to an account without code returns empty data, as on Ethereum.
    assert w3.eth.call({"to": RECIPIENT, "data": "0x12345678"}) == b""
    assert w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"}) == []
    for tag in ("earliest", "safe", "finalized", "pending"):
        assert w3.eth.get_block(tag) is not None
    assert w3.eth.get_block("earliest")["number"] == 0
