"""The pytest plugin downstream projects use."""

from __future__ import annotations

import pytest
from web3 import Web3

from conftest import DEV0, RECIPIENT
from og_devnet import Devnet


def test_fixture_gives_an_automining_devnet(og_devnet: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(og_devnet.rpc_url))
    h = w3.eth.send_transaction({"from": DEV0.address, "to": RECIPIENT, "value": 3})
    assert w3.eth.get_transaction_receipt(h)["status"] == 1


@pytest.mark.og_devnet(mining="manual", chain_id=7)
def test_marker_passes_settings(og_devnet: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(og_devnet.rpc_url))
    assert w3.eth.chain_id == 7 and og_devnet.chain.mining_mode()[0] == "manual"
