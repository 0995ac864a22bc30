"""/api/inferences/{tx_hash} and /api/nodes, /api/pipe: what PIPE did."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException

from og_devnet.api.deps import NodeDep

router = APIRouter(prefix="/api", tags=["inferences"])
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


@router.get("/inferences/{tx_hash}")
def get_inference(tx_hash: str, node: NodeDep) -> dict[str, Any]:
    if not _HASH.fullmatch(tx_hash):
        raise HTTPException(422, detail="an inference id is its transaction hash: 0x and 64 hex digits")
    record = node.inference(tx_hash)
    if record is None:
        raise HTTPException(404, detail=f"no inference for transaction {tx_hash}")
    return record


@router.get("/nodes")
def nodes(node: NodeDep) -> list[dict[str, Any]]:
    return node.node_info()


@router.get("/pipe")
def pipe_stats(node: NodeDep) -> dict[str, Any]:
    return orjson.loads(node.chain.pipe().stats_json())
