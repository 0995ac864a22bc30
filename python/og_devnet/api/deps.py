"""Typed dependencies for route handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from og_devnet.node import Node as NodeType
else:
    NodeType = object


def get_node(request: Request) -> NodeType:
    return request.app.state.node


NodeDep = Annotated[NodeType, Depends(get_node)]
