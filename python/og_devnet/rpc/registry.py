"""The table of JSON-RPC methods: one name, one handler. Handlers take the request context
and the positional params list and return a JSON-serialisable result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from og_devnet.errors import LimitExceeded

if TYPE_CHECKING:
    from og_devnet.node import Node


@dataclass
class RpcContext:
    """One HTTP request: a single call or a whole batch."""

    node: Node
    #: Set when a handler pooled a transaction: automine then seals a block for the request.
    submitted: bool = False
    #: Expensive work already done for this request, by kind ("blocks mined", ...). A batch
    #: shares it, so a batch of 1000 calls can do no more than one call may.
    spent: dict[str, int] = field(default_factory=dict)

    def spend(self, kind: str, amount: int, limit: int) -> None:
        """Takes `amount` of `kind` from this request's budget of `limit`, or refuses."""
        used = self.spent.get(kind, 0)
        if used + amount > limit:
            raise LimitExceeded(
                f"{kind}: at most {limit} per request, a batch counting as one request "
                f"({limit - used} left, {amount} asked)"
            )
        self.spent[kind] = used + amount


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
