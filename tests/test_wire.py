"""Faithful on the wire: what web3.py, ethers and viem rely on, as geth and anvil give it.
EIP-1559 base fees and fee history, `blockTimestamp`, the pending block, blocks by hash
(EIP-1898), the methods clients call, the node signing for its dev accounts, genesis `alloc`
code and storage, and malformed log filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound

from conftest import DEV0, DEV_KEYS, RECIPIENT, result, rpc
from og_devnet import Devnet
from og_devnet.node import NodeError

GWEI = 10**9
#: Room for exactly four transfers: four fill a block, two meet the EIP-1559 target.
SMALL_GAS_LIMIT = 84_000
CONTRACT = "0x00000000000000000000000000000000000000C0"
GENESIS = {
    "config": {"chainId": 10744},
    "alloc": {
        CONTRACT: {"balance": "0x10", "nonce": "0x3", "code": "0x600160005500", "storage": {"0x00": "0x2a", "0x05": "0x07"}},
        "0x00000000000000000000000000000000000000C1": {"balance": "1000"},
    },
}


def _transfer(w3: Web3, nonce: int, tip: int = GWEI, max_fee: int = 10 * GWEI, key: str = DEV_KEYS[0]) -> bytes:
    tx = {
        "type": 2, "to": RECIPIENT, "value": 1, "gas": 21_000, "nonce": nonce, "chainId": w3.eth.chain_id,
        "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
    }  # fmt: skip
    return Account.from_key(key).sign_transaction(tx).raw_transaction


@pytest.fixture
def small_node() -> Iterator[Devnet]:
    with Devnet(mining="manual", gas_limit=SMALL_GAS_LIMIT) as node:
        yield node


def test_base_fee_follows_eip_1559_and_fee_history_reports_actual_tips(small_node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(small_node.rpc_url))
    assert w3.eth.get_block("latest")["baseFeePerGas"] == GWEI
    # Tips of 1, 2, 3 and 4 gwei fill block 1.
    for nonce in range(4):
        w3.eth.send_raw_transaction(_transfer(w3, nonce, tip=(nonce + 1) * GWEI))
    small_node.mine(1)
    block1 = w3.eth.get_block(1)
    assert block1["gasUsed"] == SMALL_GAS_LIMIT and block1["baseFeePerGas"] == GWEI
    raised = GWEI + GWEI // 8
    assert w3.eth.get_block("pending")["baseFeePerGas"] == raised, "+12.5 % after a full block"
    assert w3.eth.gas_price == raised + w3.eth.max_priority_fee
    # Below the next base fee: refused with a message naming it.
    low = rpc(small_node, "eth_sendRawTransaction", ["0x" + _transfer(w3, 4, tip=0, max_fee=GWEI).hex()])
    assert low["error"]["code"] == -32003 and str(raised) in low["error"]["message"]
    # The next block is charged its own base fee.
    h = w3.eth.send_raw_transaction(_transfer(w3, 4, tip=GWEI))
    small_node.mine(1)
    receipt = w3.eth.get_transaction_receipt(h)
    assert w3.eth.get_block(2)["baseFeePerGas"] == raised
    assert receipt["effectiveGasPrice"] == raised + GWEI
    # One transfer of four is below the target: the base fee falls, never below 1 gwei.
    small_node.mine(1)
    assert w3.eth.get_block(3)["baseFeePerGas"] < raised
    assert w3.eth.get_block("pending")["baseFeePerGas"] == GWEI

    history = w3.eth.fee_history(4, "latest", [0, 25, 50, 100])
    assert history["oldestBlock"] == 0
    assert history["baseFeePerGas"] == [GWEI, GWEI, raised, w3.eth.get_block(3)["baseFeePerGas"], GWEI]
    assert history["gasUsedRatio"] == [0.0, 1.0, 0.25, 0.0]
    # Weighted by gas as geth weighs them: each transfer is a quarter of block 1.
    assert history["reward"][1] == [GWEI, GWEI, 2 * GWEI, 4 * GWEI]
    assert history["reward"][2] == [GWEI] * 4
    assert history["reward"][0] == [0] * 4 and history["reward"][3] == [0] * 4
    assert "reward" not in result(small_node, "eth_feeHistory", ["0x2", "latest"])
    bad = rpc(small_node, "eth_feeHistory", ["0x2", "latest", [50, 10]])
    assert bad["error"]["code"] == -32602 and "increasing" in bad["error"]["message"]


def test_a_fixed_base_fee_never_moves() -> None:
    with Devnet(mining="manual", gas_limit=SMALL_GAS_LIMIT, base_fee=2 * GWEI, base_fee_change=False) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        for nonce in range(4):
            w3.eth.send_raw_transaction(_transfer(w3, nonce))
        node.mine(2)
        assert [w3.eth.get_block(n)["baseFeePerGas"] for n in range(3)] == [2 * GWEI] * 3
        assert w3.eth.get_block("pending")["baseFeePerGas"] == 2 * GWEI


def test_a_restart_resumes_the_base_fee_from_the_stored_blocks(tmp_path: Path) -> None:
    with Devnet(mining="manual", gas_limit=SMALL_GAS_LIMIT, state=tmp_path) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        for nonce in range(4):
            w3.eth.send_raw_transaction(_transfer(w3, nonce))
        node.mine(1)
        before = result(node, "eth_gasPrice")
    # The setting was stored with the chain: asking for a fixed fee now changes nothing.
    with Devnet(mining="manual", state=tmp_path, base_fee_change=False) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        assert result(node, "eth_gasPrice") == before
        node.mine(1)
        assert w3.eth.get_block("latest")["baseFeePerGas"] == GWEI + GWEI // 8
        assert w3.eth.get_block("pending")["baseFeePerGas"] < GWEI + GWEI // 8


def test_mined_transactions_carry_their_block_timestamp(manual_node: Devnet, w3: Web3) -> None:
    h = w3.eth.send_raw_transaction(_transfer(w3, 0))
    assert w3.eth.get_transaction(h)["blockTimestamp"] is None, "pooled: no block yet"
    manual_node.mine(1)
    block = w3.eth.get_block(1, full_transactions=True)
    stamp = hex(block["timestamp"])
    raw = result(manual_node, "eth_getTransactionByHash", [h.to_0x_hex()])
    assert raw["blockTimestamp"] == stamp
    assert result(manual_node, "eth_getBlockByNumber", ["0x1", True])["transactions"][0]["blockTimestamp"] == stamp
    assert result(manual_node, "eth_getTransactionByBlockNumberAndIndex", ["0x1", "0x0"])["blockTimestamp"] == stamp
    by_hash = result(manual_node, "eth_getTransactionByBlockHashAndIndex", [block["hash"].to_0x_hex(), "0x0"])
    assert by_hash["blockTimestamp"] == stamp and by_hash["hash"] == h.to_0x_hex()
    # Receipts and logs keep their shape.
    assert "blockTimestamp" not in result(manual_node, "eth_getTransactionReceipt", [h.to_0x_hex()])


def test_the_pending_block_holds_the_pools_ready_transactions(manual_node: Devnet, w3: Web3) -> None:
    h0 = w3.eth.send_raw_transaction(_transfer(w3, 0))
    w3.eth.send_raw_transaction(_transfer(w3, 2))  # behind a nonce gap: not ready
    h1 = w3.eth.send_raw_transaction(_transfer(w3, 0, key=DEV_KEYS[1], tip=3 * GWEI))
    pending = w3.eth.get_block("pending", full_transactions=True)
    assert pending["number"] == 1 and pending["parentHash"] == w3.eth.get_block("latest")["hash"]
    # As geth shows it: no hash, nonce or miner yet.
    assert pending["hash"] is None and pending["miner"] is None and pending["nonce"] is None
    assert [t["hash"] for t in pending["transactions"]] == [h1, h0], "best tip first"
    assert pending["gasUsed"] == 42_000 and pending["baseFeePerGas"] == GWEI
    assert pending["transactions"][0]["blockNumber"] == 1 and pending["transactions"][0]["blockHash"] is None
    assert w3.eth.get_block_transaction_count("pending") == 2
    assert w3.eth.get_transaction_by_block("pending", 1)["hash"] == h0
    assert result(manual_node, "eth_getBlockReceipts", ["pending"]) is None
    assert w3.eth.block_number == 0, "building the pending block seals nothing"
    manual_node.mine(1)
    assert [t for t in w3.eth.get_block(1)["transactions"]] == [h1, h0]
    assert w3.eth.get_block("pending")["transactions"] == []


def test_blocks_are_named_by_hash_and_eip_1898_objects_everywhere(manual_node: Devnet, w3: Web3) -> None:
    w3.eth.send_raw_transaction(_transfer(w3, 0))
    manual_node.mine(1)
    genesis_hash = w3.eth.get_block(0)["hash"].to_0x_hex()
    head_hash = w3.eth.get_block(1)["hash"].to_0x_hex()
    before = w3.eth.get_balance(DEV0.address, 0)
    assert w3.eth.get_balance(DEV0.address, block_identifier=genesis_hash) == before
    for selector in (genesis_hash, {"blockHash": genesis_hash}, {"blockHash": genesis_hash, "requireCanonical": True}, {"blockNumber": "0x0"}):
        assert int(result(manual_node, "eth_getBalance", [DEV0.address, selector]), 16) == before
        assert result(manual_node, "eth_getTransactionCount", [DEV0.address, selector]) == "0x0"
        assert result(manual_node, "eth_getCode", [RECIPIENT, selector]) == "0x"
        assert result(manual_node, "eth_getStorageAt", [RECIPIENT, "0x0", selector]) == "0x" + "00" * 32
        assert result(manual_node, "eth_call", [{"to": RECIPIENT}, selector]) == "0x"
        assert result(manual_node, "eth_getBlockByNumber", [selector, False])["number"] == "0x0"
    assert result(manual_node, "eth_getTransactionCount", [DEV0.address, {"blockHash": head_hash}]) == "0x1"
    assert len(result(manual_node, "eth_getBlockReceipts", [head_hash])) == 1

    unknown = "0x" + "42" * 32
    for method, params in (
        ("eth_getBalance", [DEV0.address, unknown]),
        ("eth_getTransactionCount", [DEV0.address, {"blockHash": unknown}]),
        ("eth_getCode", [RECIPIENT, unknown]),
        ("eth_getStorageAt", [RECIPIENT, "0x0", unknown]),
        ("eth_call", [{"to": RECIPIENT}, {"blockHash": unknown, "requireCanonical": False}]),
        ("eth_estimateGas", [{"to": RECIPIENT}, unknown]),
    ):
        err = rpc(manual_node, method, params)["error"]
        assert err["code"] == -32000 and "header not found" in err["message"], (method, err)
    assert result(manual_node, "eth_getBlockByNumber", [unknown, False]) is None
    assert result(manual_node, "eth_getBlockReceipts", [unknown]) is None
    for selector in ({"blockHash": genesis_hash, "blockNumber": "0x0"}, {"blockNumber": "0x0", "requireCanonical": True},
                     {"blockHash": genesis_hash, "requireCanonical": "yes"}, {"block": "0x0"}):  # fmt: skip
        assert rpc(manual_node, "eth_getBalance", [DEV0.address, selector])["error"]["code"] == -32602, selector


def test_methods_clients_call(manual_node: Devnet, w3: Web3) -> None:
    h = w3.eth.send_raw_transaction(raw := _transfer(w3, 0))
    # A pooled transaction's bytes are served too, as geth serves them.
    assert result(manual_node, "eth_getRawTransactionByHash", [h.to_0x_hex()]) == "0x" + raw.hex()
    manual_node.mine(1)
    block = w3.eth.get_block(1)
    block_hash = block["hash"].to_0x_hex()
    served = result(manual_node, "eth_getRawTransactionByHash", [h.to_0x_hex()])
    assert keccak(hexstr=served) == h and Account.recover_transaction(served) == DEV0.address
    assert result(manual_node, "eth_getRawTransactionByBlockHashAndIndex", [block_hash, "0x0"]) == served
    assert result(manual_node, "eth_getRawTransactionByBlockNumberAndIndex", ["latest", "0x0"]) == served
    assert result(manual_node, "eth_getRawTransactionByBlockNumberAndIndex", ["0x1", "0x1"]) is None
    assert result(manual_node, "eth_getRawTransactionByHash", ["0x" + "11" * 32]) is None
    assert w3.eth.get_transaction_by_block(block_hash, 0)["hash"] == h
    assert result(manual_node, "eth_getTransactionByBlockHashAndIndex", ["0x" + "11" * 32, "0x0"]) is None
    assert w3.eth.get_block_transaction_count(block_hash) == 1
    assert result(manual_node, "eth_getBlockTransactionCountByHash", ["0x" + "11" * 32]) is None
    receipts = w3.eth.get_block_receipts(1)
    assert [r["transactionHash"] for r in receipts] == [h]
    assert receipts[0] == w3.eth.get_transaction_receipt(h)
    assert result(manual_node, "eth_getBlockReceipts", [block_hash]) == result(manual_node, "eth_getBlockReceipts", ["latest"])
    assert result(manual_node, "eth_getBlockReceipts", ["0x0"]) == []
    assert result(manual_node, "eth_getBlockReceipts", ["0x9"]) is None
    assert w3.eth.blob_base_fee == 0
    access = w3.eth.create_access_list({"from": DEV0.address, "to": RECIPIENT, "value": 1})
    assert access["accessList"] == [] and access["gasUsed"] == 21_000
    with pytest.raises(TransactionNotFound):
        w3.eth.get_transaction_by_block(1, 5)


def test_the_node_signs_for_its_dev_accounts(manual_node: Devnet, w3: Web3) -> None:
    dev = w3.eth.accounts[0]
    signature = w3.eth.sign(dev, text="hello og-devnet")
    assert Account.recover_message(encode_defunct(text="hello og-devnet"), signature=signature) == dev
    raw_sig = result(manual_node, "eth_sign", [dev, "0xdeadbeef"])
    assert Account.recover_message(encode_defunct(hexstr="0xdeadbeef"), signature=raw_sig) == dev

    typed = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Order": [{"name": "owner", "type": "address"}, {"name": "amount", "type": "uint256"}, {"name": "tags", "type": "string[]"}],
        },
        "primaryType": "Order",
        "domain": {"name": "og-devnet", "chainId": w3.eth.chain_id},
        "message": {"owner": dev, "amount": 10**18, "tags": ["a", "b"]},
    }
    expected_signer = encode_typed_data(full_message=typed)
    # ethers and viem send the typed data as a JSON string, web3.py as an object.
    as_string = result(manual_node, "eth_signTypedData_v4", [dev, json.dumps(typed)])
    assert Account.recover_message(expected_signer, signature=as_string) == dev
    assert Account.recover_message(expected_signer, signature=w3.eth.sign_typed_data(dev, typed)) == dev
    # Amounts beyond 64 bits travel as decimal strings, as ethers sends them.
    big = {**typed, "message": {**typed["message"], "amount": 10**30}}
    as_text = json.dumps({**big, "message": {**big["message"], "amount": str(10**30)}})
    signature = result(manual_node, "eth_signTypedData_v4", [dev, as_text])
    assert Account.recover_message(encode_typed_data(full_message=big), signature=signature) == dev

    raw = result(manual_node, "eth_signTransaction", [{"from": dev, "to": RECIPIENT, "value": "0x5"}])
    assert Account.recover_transaction(raw) == dev
    fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    assert fields["nonce"] == 0 and fields["gas"] == 21_000 and fields["chainId"] == w3.eth.chain_id
    assert fields["maxFeePerGas"] == 2 * w3.eth.get_block("pending")["baseFeePerGas"] + w3.eth.max_priority_fee
    assert w3.eth.get_transaction_count(dev, "pending") == 0, "signing pools nothing"
    h = w3.eth.send_raw_transaction(raw)
    manual_node.mine(1)
    assert w3.eth.get_transaction_receipt(h)["status"] == 1

    stranger = "0x" + "42" * 20
    for method, params in (
        ("eth_sign", [stranger, "0x00"]),
        ("eth_signTypedData_v4", [stranger, typed]),
        ("eth_signTransaction", [{"from": stranger, "to": RECIPIENT}]),
    ):
        err = rpc(manual_node, method, params)["error"]
        assert err["code"] == -32000 and "not unlocked" in err["message"], (method, err)
    for bad in ("{not json", {"types": {}}, [1]):
        err = rpc(manual_node, "eth_signTypedData_v4", [dev, bad])["error"]
        assert err["code"] == -32602 and "typed" in err["message"].lower(), err


def test_genesis_alloc_keeps_code_storage_and_nonce_across_a_restart(tmp_path: Path) -> None:
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(GENESIS))
    state = tmp_path / "state"
    for settings in ({"genesis": genesis, "state": state}, {"state": state}):
        with Devnet(mining="manual", **settings) as node:
            w3 = Web3(Web3.HTTPProvider(node.rpc_url))
            assert w3.eth.get_code(CONTRACT) == bytes.fromhex("600160005500")
            assert w3.eth.get_storage_at(CONTRACT, 0) == (0x2A).to_bytes(32, "big")
            assert w3.eth.get_storage_at(CONTRACT, 5, "earliest") == (7).to_bytes(32, "big")
            assert w3.eth.get_storage_at(CONTRACT, 1) == bytes(32)
            assert w3.eth.get_transaction_count(CONTRACT) == 3 and w3.eth.get_balance(CONTRACT) == 16
            assert w3.eth.get_balance("0x00000000000000000000000000000000000000C1") == 1000
            # The genesis code runs (SSTORE(0, 1)): more gas than a transfer, storage in the
            # pending block changed, latest untouched.
            gas = int(result(node, "eth_estimateGas", [{"from": DEV0.address, "to": CONTRACT}]), 16)
            assert gas > 21_000 + 2_000
            node.mine(1)


def test_an_unknown_alloc_field_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps({"alloc": {CONTRACT: {"balance": "0x1", "secretKey": "0x01"}}}))
    with pytest.raises(NodeError, match="unknown field `secretKey`"):
        Devnet(genesis=genesis).start()


@pytest.mark.parametrize(
    "bad_filter, said",
    [
        ({"address": 5}, "filter.address"),
        ({"address": {}}, "filter.address"),
        ({"address": ["0x12"]}, "filter.address[0]"),
        ({"topics": "0x" + "00" * 32}, "filter.topics"),
        ({"topics": [["0x12"]]}, "filter.topics[0]"),
        ({"topics": [[["0x" + "00" * 32]]]}, "filter.topics[0]"),
        ({"topics": [None] * 5}, "filter.topics"),
        ({"fromBlock": {"x": 1}}, "filter.fromBlock"),
        ({"blockHash": "0x" + "00" * 32, "fromBlock": "0x0"}, "blockHash cannot be combined"),
        ("latest", "filter: expected an object"),
        ([{}], "filter: expected an object"),
    ],
)
def test_malformed_log_filters_are_invalid_params(manual_node: Devnet, bad_filter: Any, said: str) -> None:
    err = rpc(manual_node, "eth_getLogs", [bad_filter])["error"]
    assert err["code"] == -32602 and said in err["message"], err


def test_a_log_query_for_an_unknown_block_hash_is_not_found(manual_node: Devnet) -> None:
    err = rpc(manual_node, "eth_getLogs", [{"blockHash": "0x" + "42" * 32}])["error"]
    assert err["code"] == -32000 and "header not found" in err["message"]


def test_send_transaction_prices_for_the_next_base_fee(small_node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(small_node.rpc_url))
    for nonce in range(4):
        w3.eth.send_raw_transaction(_transfer(w3, nonce, key=DEV_KEYS[1]))
    small_node.mine(1)
    h = w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 1})
    tx = w3.eth.get_transaction(h)
    assert tx["maxFeePerGas"] == 2 * (GWEI + GWEI // 8) + w3.eth.max_priority_fee
    assert tx["from"] == DEV0.address
