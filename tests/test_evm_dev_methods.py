"""The anvil/hardhat dev methods contract developers reach for, over JSON-RPC: code and
storage edits, time travel, impersonation, dropping a pooled transaction, snapshots that
cover storage, and debug_trace* errors — each with its bad input refused and nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DEV0, RECIPIENT, result, rpc
from og_devnet import Devnet

#: Runtime code that returns 42: PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN.
RETURNS_42 = "0x602a60005260206000f3"
#: Initcode of a contract whose runtime stores calldata word 0 in slot 0.
STORE_INIT = "0x" + "610007" + "600e" + "6000" + "39" + "610007" + "6000" + "f3" + "60003560005500"
TARGET = "0x00000000000000000000000000000000000000C0"
WHALE = "0x7777777777777777777777777777777777777777"


def send(node: Devnet, tx: dict[str, Any]) -> str:
    return result(node, "eth_sendTransaction", [{"from": DEV0.address, "gas": hex(200_000), **tx}])


def receipt(node: Devnet, tx_hash: str) -> dict[str, Any]:
    r = result(node, "eth_getTransactionReceipt", [tx_hash])
    assert r is not None, tx_hash
    return r


def error(node: Devnet, method: str, params: list[Any]) -> dict[str, Any]:
    body = rpc(node, method, params)
    assert "error" in body, body
    return body["error"]


def test_code_and_storage_edits_run_and_are_kept(manual_node: Devnet) -> None:
    node = manual_node
    result(node, "anvil_setCode", [TARGET, RETURNS_42])
    assert result(node, "eth_getCode", [TARGET, "latest"]) == RETURNS_42
    assert int(result(node, "eth_call", [{"to": TARGET}, "latest"]), 16) == 42
    result(node, "hardhat_setStorageAt", [TARGET, "0x5", "0x" + "00" * 31 + "07"])
    assert int(result(node, "eth_getStorageAt", [TARGET, "0x5", "latest"]), 16) == 7
    result(node, "evm_mine")
    # Written into the mined block: the block before it does not have them.
    assert result(node, "eth_getCode", [TARGET, "0x0"]) == "0x"
    assert int(result(node, "eth_getStorageAt", [TARGET, "0x5", "0x1"]), 16) == 7
    # Bad input: refused, nothing changes.
    for params, said in (
        (["0x00000000000000000000000000000000000000F4", "0x00"], "native contract"),
        ([TARGET, "0x" + "00" * 24_577], "EIP-170"),
        ([TARGET, "0x123"], "hex bytes"),
    ):
        err = error(node, "anvil_setCode", params)
        assert err["code"] == -32602 and said in err["message"], err
    assert result(node, "eth_getCode", [TARGET, "latest"]) == RETURNS_42


def test_time_travel_moves_the_evm_clock(manual_node: Devnet) -> None:
    node = manual_node
    result(node, "evm_mine")
    before = int(result(node, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    assert int(result(node, "evm_increaseTime", [hex(3600)]), 16) == 3600
    result(node, "evm_mine")
    after = int(result(node, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    assert 3600 <= after - before < 3700
    result(node, "evm_setNextBlockTimestamp", [hex(after + 86_400)])
    result(node, "evm_mine")
    assert int(result(node, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16) == after + 86_400
    result(node, "evm_mine", [hex(after + 90_000)])
    assert int(result(node, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16) == after + 90_000
    err = error(node, "evm_setNextBlockTimestamp", [hex(after)])
    assert err["code"] == -32602 and "before the latest block" in err["message"], err


def test_impersonation_sends_without_the_key(auto_node: Devnet) -> None:
    node = auto_node
    result(node, "anvil_setBalance", [WHALE, hex(10**20)])
    tx = {"from": WHALE, "to": RECIPIENT, "value": hex(5)}
    assert error(node, "eth_sendTransaction", [tx])["code"] == -32000
    result(node, "anvil_impersonateAccount", [WHALE])
    before = int(result(node, "eth_getBalance", [RECIPIENT, "latest"]), 16)
    h = result(node, "eth_sendTransaction", [tx])
    assert receipt(node, h)["from"].lower() == WHALE and receipt(node, h)["status"] == "0x1"
    assert int(result(node, "eth_getBalance", [RECIPIENT, "latest"]), 16) == before + 5
    result(node, "hardhat_stopImpersonatingAccount", [WHALE])
    assert error(node, "eth_sendTransaction", [tx])["code"] == -32000


def test_drop_transaction_and_snapshots_cover_storage(manual_node: Devnet) -> None:
    node = manual_node
    created = send(node, {"data": STORE_INIT})
    result(node, "evm_mine")
    contract = receipt(node, created)["contractAddress"]
    snap = result(node, "evm_snapshot")
    send(node, {"to": contract, "data": "0x" + "00" * 31 + "2a"})
    result(node, "evm_mine")
    assert int(result(node, "eth_getStorageAt", [contract, "0x0", "latest"]), 16) == 42
    assert result(node, "evm_revert", [snap]) is True
    assert int(result(node, "eth_getStorageAt", [contract, "0x0", "latest"]), 16) == 0
    assert result(node, "eth_getCode", [contract, "latest"]) != "0x"
    dropped = send(node, {"to": contract, "data": "0x" + "00" * 31 + "07"})
    result(node, "anvil_dropTransaction", [dropped])
    assert result(node, "txpool_status")["pending"] == "0x0"
    result(node, "evm_mine")
    assert result(node, "eth_getTransactionReceipt", [dropped]) is None
    assert int(result(node, "eth_getStorageAt", [contract, "0x0", "latest"]), 16) == 0


@pytest.mark.parametrize(
    "method, params, said",
    [
        ("debug_traceTransaction", ["0x" + "11" * 32, {"tracer": "callTracer"}], "not in a published block"),
        ("debug_traceTransaction", ["0x" + "11" * 32, {"tracer": "4byteTracer"}], "not supported"),
        ("debug_traceTransaction", ["0x" + "11" * 32, "callTracer"], "expected an object"),
        ("debug_traceCall", [{"to": TARGET}, "latest", {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": "yes"}}], "tracerConfig"),
    ],
)
def test_bad_trace_requests_are_refused(manual_node: Devnet, method: str, params: list[Any], said: str) -> None:
    err = error(manual_node, method, params)
    assert err["code"] == -32602 and said in err["message"], err


def test_trace_call_and_transfer_traces(manual_node: Devnet) -> None:
    node = manual_node
    result(node, "anvil_setCode", [TARGET, RETURNS_42])
    frame = result(node, "debug_traceCall", [{"from": DEV0.address, "to": TARGET}, "latest", {"tracer": "callTracer"}])
    assert frame["type"] == "CALL" and int(frame["output"], 16) == 42
    h = send(node, {"to": RECIPIENT, "value": hex(3)})
    result(node, "evm_mine")
    structs = result(node, "debug_traceTransaction", [h])
    assert structs["failed"] is False and structs["gas"] == 21_000
    pre = result(node, "debug_traceTransaction", [h, {"tracer": "prestateTracer"}])
    assert DEV0.address.lower() in {k.lower() for k in pre}
    block = result(node, "eth_getTransactionReceipt", [h])["blockHash"]
    (by_hash,) = result(node, "debug_traceBlockByHash", [block, {"tracer": "callTracer"}])
    assert by_hash["txHash"] == h and int(by_hash["result"]["value"], 16) == 3


def test_create_access_list_names_the_slots_a_call_touches(manual_node: Devnet) -> None:
    node = manual_node
    created = send(node, {"data": STORE_INIT})
    result(node, "evm_mine")
    contract = receipt(node, created)["contractAddress"]
    call = {"from": DEV0.address, "to": contract, "data": "0x" + "00" * 31 + "2a"}
    answer = result(node, "eth_createAccessList", [call, "latest"])
    assert answer["accessList"] == [{"address": contract, "storageKeys": ["0x" + "00" * 32]}] or (
        answer["accessList"][0]["address"].lower() == contract.lower() and answer["accessList"][0]["storageKeys"] == ["0x" + "00" * 32]
    ), answer
    assert int(answer["gasUsed"], 16) > 21_000
    plain = result(node, "eth_createAccessList", [{"from": DEV0.address, "to": RECIPIENT}, "latest"])
    assert plain == {"accessList": [], "gasUsed": hex(21_000)}
