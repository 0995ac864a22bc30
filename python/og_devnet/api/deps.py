"""Typed dependencies for route handlers, and the query parameters lists share."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Query, Request

from og_devnet.store.explorer import ExplorerQueries

if TYPE_CHECKING:
    from og_devnet.node import Node as NodeType
else:
    NodeType = object

HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def get_node(request: Request) -> NodeType:
    return request.app.state.node


def get_queries(request: Request) -> ExplorerQueries:
    return request.app.state.queries


NodeDep = Annotated[NodeType, Depends(get_node)]
QueriesDep = Annotated[ExplorerQueries, Depends(get_queries)]
#: Page size and cursor: items from blocks strictly before `before`, newest first.
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page")]
#: SQLite integers stop at 2**63 - 1.
MAX_INT = 2**63 - 1
Before = Annotated[int | None, Query(ge=0, le=MAX_INT, description="Only items from blocks before this number (the previous page's next_before)")]
#: Within the `before` block, only items before this key (the previous page's next_before_key).
BeforeKey = Annotated[str | None, Query(max_length=80, description="The previous page's next_before_key")]


def hash32(value: str, what: str = "hash") -> str:
    if not HASH.fullmatch(value):
        raise HTTPException(422, detail=f"{what}: expected 0x and 64 hex digits, got {value!r}")
    return value.lower()


def address(value: str) -> str:
    if not ADDRESS.fullmatch(value):
        raise HTTPException(422, detail=f"address: expected 0x and 40 hex digits, got {value!r}")
    return value
