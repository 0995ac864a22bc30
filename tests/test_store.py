"""The store: blocks committed before they are served, restart resumes, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from web3 import Web3

from conftest import DEV0, RECIPIENT
from og_devnet import Devnet
from og_devnet.store.tables import AccountRow, BlockRow, TxRow
from pg import postgres_server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chain.db'}"
    else:
        with postgres_server() as url:
            yield url


def test_blocks_persist_and_resume(db_url: str, tmp_path: Path) -> None:
    with Devnet(mining="manual", state=tmp_path / "state", db=db_url) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        h = w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 77})
        node.mine(2)
        receipt = w3.eth.get_transaction_receipt(h)
        with Session(node.store.engine) as s:
            assert s.exec(select(BlockRow.number).order_by(BlockRow.number)).all() == [0, 1, 2]
            row = s.get(TxRow, h.to_0x_hex())
            assert row is not None and row.value == "77" and row.status == 1 and row.sender == DEV0.address.lower()
            assert s.get(AccountRow, RECIPIENT.lower()).balance == "77"  # type: ignore[union-attr]
    with Devnet(mining="manual", state=tmp_path / "state", db=db_url) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        assert node.resumed and w3.eth.block_number == 2
        assert w3.eth.get_transaction_receipt(h)["blockHash"] == receipt["blockHash"]
        assert w3.eth.get_balance(RECIPIENT) == 77
        assert w3.eth.get_transaction_count(DEV0.address) == 1
        node.mine(1)
        assert w3.eth.get_block(3)["parentHash"] == w3.eth.get_block(2)["hash"]


def test_revert_is_persisted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    dev9 = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"
    with Devnet(mining="manual", state=state) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        w3.provider.make_request("anvil_setBalance", [dev9, "0x0"])  # an emptied account stays empty
        snap = w3.provider.make_request("evm_snapshot", [])["result"]
        w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 5})
        node.mine(3)
        assert w3.provider.make_request("evm_revert", [snap])["result"] is True
    with Devnet(mining="manual", state=state) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        assert w3.eth.block_number == 0
        assert w3.eth.get_balance(RECIPIENT) == 0
        assert w3.eth.get_balance(dev9) == 0
        assert w3.eth.get_transaction_count(DEV0.address) == 0


def test_a_failed_commit_serves_nothing_and_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Devnet(mining="manual") as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        h = w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 5})

        def broken(record: str, stored: str) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(node.store, "commit_block", broken)
        with pytest.raises(OSError):
            node.mine(1)
        assert w3.eth.block_number == 0
        assert w3.eth.get_transaction_count(DEV0.address, "pending") == 1, "the tx is back in the pool"
        monkeypatch.undo()
        node.mine(1)
        assert w3.eth.get_transaction_receipt(h)["status"] == 1


def test_balance_edits_survive_a_restart_without_a_new_block(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Devnet(mining="manual", state=state) as node:
        node.mine(1)
        Web3(Web3.HTTPProvider(node.rpc_url)).provider.make_request("anvil_setBalance", [RECIPIENT, hex(99)])
    with Devnet(mining="manual", state=state) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        assert w3.eth.get_balance(RECIPIENT) == 99
        assert w3.eth.get_balance(RECIPIENT, 1) == 0, "sealed history is not rewritten"
