"""The Rust core through its Python bindings, without a server."""

from __future__ import annotations

import json

import pytest

from og_devnet import _core, errors
from og_devnet._core import Chain

DEV0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
CONFIG = {
    "chain_id": 10744, "mnemonic": "test test test test test test test test test test test junk", "accounts": 3,
    "balance": 10**22, "timestamp_ms": 1_700_000_000_000, "base_fee": 10**9, "gas_limit": 30_000_000, "mining": "manual",
}  # fmt: skip


def make_chain(**kw: object) -> Chain:
    return Chain({**CONFIG, **kw})  # type: ignore[typeddict-item]


def test_dev_accounts_are_the_anvil_accounts() -> None:
    chain = make_chain()
    accounts = chain.dev_accounts()
    assert len(accounts) == 3
    assert accounts[0] == (DEV0, "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
    assert chain.balance(DEV0, "latest") == 10**22
    assert chain.nonce(DEV0, "pending") == 0
    # Without a chain: the same addresses, and an address from a key.
    assert _core.dev_addresses(CONFIG["mnemonic"], 3) == [a for a, _ in accounts]  # type: ignore[arg-type]
    assert _core.address_of_key(bytes.fromhex(accounts[1][1][2:])) == accounts[1][0]
    with pytest.raises(_core.InvalidArgument, match="32 bytes"):
        _core.address_of_key(b"\x00" * 32)
    with pytest.raises(_core.InvalidArgument, match="mnemonic"):
        _core.dev_addresses("not a mnemonic", 1)


def test_send_seal_publish_cycle() -> None:
    chain = make_chain()
    tx_hash = chain.send_transaction({"from": DEV0, "to": "0x" + "11" * 20, "value": 5})
    assert chain.nonce(DEV0, "pending") == 1
    sealed = chain.seal_block(1_700_000_001_000)
    assert (sealed.number, sealed.tx_count) == (1, 1)
    assert chain.receipt_json(tx_hash) is None, "staged blocks are not served"
    chain.publish(sealed.number)
    receipt = json.loads(chain.receipt_json(tx_hash))
    assert receipt["status"] == "0x1" and receipt["gasUsed"] == hex(21000)
    record, stored = json.loads(sealed.record), json.loads(sealed.stored)
    assert stored["hash"] == sealed.hash and len(stored["transactions"]) == 1
    assert record["block"]["transactions"][0]["hash"] == tx_hash
    # The record indexes the block; its calldata is in the stored block only.
    assert "input" not in record["block"]["transactions"][0]
    assert record["state_changes"] == stored["state_changes"] and record["state_changes"]


def test_errors_are_typed_and_mapped_to_rpc_codes() -> None:
    chain = make_chain()
    with pytest.raises(errors.MalformedTransaction) as e:
        chain.submit_raw(b"\xf8\x01")
    assert isinstance(e.value, errors.InvalidTransaction) and isinstance(e.value, errors.CoreError)
    assert errors.rpc_error(e.value)["code"] == -32000
    with pytest.raises(errors.UnknownAccount):
        chain.send_transaction({"from": "0x" + "22" * 20, "to": DEV0})
    with pytest.raises(errors.InvalidArgument):
        chain.balance("0x1234", "latest")
    with pytest.raises(errors.InvalidArgument, match="unknown mining mode"):
        make_chain(mining="sometimes")
    with pytest.raises(errors.InvalidArgument, match="unknown hard fork"):
        make_chain(hardfork="homestead")
    with pytest.raises(KeyError):
        Chain({"chain_id": 1})  # type: ignore[typeddict-item]
    assert errors.rpc_error(_core.NonceTooLow("x"))["code"] == -32003
    assert errors.rpc_error(_core.PoolFull("x"))["code"] == -32005
    assert errors.rpc_error(RuntimeError("boom"))["code"] == -32603


def test_restore_resumes_state_and_receipts() -> None:
    chain = make_chain()
    records = [json.loads(chain.genesis_block().stored)]
    tx_hash = chain.send_transaction({"from": DEV0, "to": "0x" + "11" * 20, "value": 5})
    sealed = chain.seal_block(1_700_000_001_000)
    chain.publish(sealed.number)
    records.append(json.loads(sealed.stored))
    restored = Chain.restore(
        CONFIG,  # type: ignore[arg-type]
        blocks=[json.dumps(r) for r in records], state=[(a, b, n) for a, b, n in chain.accounts()],
    )  # fmt: skip
    assert restored.head() == 1
    assert json.loads(restored.receipt_json(tx_hash))["status"] == "0x1"
    assert restored.balance("0x" + "11" * 20, "latest") == 5
    assert restored.nonce(DEV0, "latest") == 1


def test_stub_names_every_export_of_the_binary() -> None:
    import ast
    from pathlib import Path

    stub = ast.parse((Path(_core.__file__).parent / "_core.pyi").read_text())
    top = {n.name for n in stub.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))} - {"PipeArgs", "ChainConfig"}
    chain_stub = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "Chain")
    methods = {n.name for n in chain_stub.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
    assert {x for x in dir(_core) if not x.startswith("_")} == top
    assert {x for x in dir(Chain) if not x.startswith("_")} == methods
    pipe_stub = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "Pipe")
    assert {x for x in dir(_core.Pipe) if not x.startswith("_")} == {n.name for n in pipe_stub.body if isinstance(n, ast.FunctionDef)}
