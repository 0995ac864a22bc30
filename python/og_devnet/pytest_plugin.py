"""A pytest plugin for projects that test against og-devnet (registered on install).

    def test_transfer(og_devnet):            # a fresh automining devnet per test
        w3 = Web3(Web3.HTTPProvider(og_devnet.rpc_url))

Use `@pytest.mark.og_devnet(mining="manual", chain_id=7)` to pass Settings fields.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from og_devnet import Devnet


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "og_devnet(**settings): settings for the og_devnet fixture")


@pytest.fixture
def og_devnet(request: pytest.FixtureRequest) -> Iterator[Devnet]:
    marker = request.node.get_closest_marker("og_devnet")
    settings = {"mining": "auto", **(marker.kwargs if marker else {})}
    with Devnet(**settings) as node:
        yield node
