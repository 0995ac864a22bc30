"""The table of JSON-RPC methods: one name, one handler. Handlers take the request context
and the positional params list and return a JSON-serialisable result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from og_devnet.node import Node


@dataclass
class RpcContext:
    node: Node
    #: Set when a handler pooled a transaction: automine then seals a block for the request.
    submitted: bool = False


Handler = Callable[[RpcContext, list[Any]], Any]
METHODS: dict[str, Handler] = {}


def method(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            if name in METHODS:
                raise RuntimeError(f"JSON-RPC method {name} registered twice")
            METHODS[name] = fn
        return fn

    return register
