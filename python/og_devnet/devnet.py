"""`Devnet`: the in-process devnet for downstream test suites (`from og_devnet import Devnet`)."""

from __future__ import annotations

from og_devnet.config import Settings
from og_devnet.node import Node


class Devnet(Node):
    """A node for downstream test suites: a free loopback port unless one is given.

    with Devnet() as net:
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))

    JSON-RPC answers as soon as `start()` returns; models, inference nodes, LLM gateways and
    the store finish starting in the background, and whatever needs them waits for them
    (`net.wait_ready()` waits explicitly).
    """

    def __init__(self, settings: Settings | None = None, **overrides: object) -> None:
        if settings is None:
            overrides.setdefault("port", 0)
        super().__init__(settings, **overrides)

