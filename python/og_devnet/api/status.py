"""GET /api/status: what the explorer's header shows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from og_devnet.api.deps import NodeDep

router = APIRouter(prefix="/api", tags=["status"])


@router.get("/status")
def status(node: NodeDep) -> dict[str, Any]:
    return node.info()
