"""/api/inferences, /api/nodes, /api/pipe and /api/stats: what PIPE did and how settlement went."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query

from og_devnet._core import Mode, Status
from og_devnet.api.deps import HASH, Before, BeforeKey, Limit, NodeDep, QueriesDep, hash32
from og_devnet.inference.quote import percentiles

router = APIRouter(prefix="/api", tags=["inferences"])
#: What an inference (one call) can be filtered by: every status but a runMany
#: transaction's own and "failing" (never stored).
STATUSES = tuple(s.value for s in Status.all() if s not in (Status.FAILING, Status.SETTLING, Status.PARTLY_REJECTED))
MODES = ", ".join(f"{int(m)} {m.name}" for m in Mode.all())


@router.get("/inferences")
def list_inferences(
    node: NodeDep,
    queries: QueriesDep,
    limit: Limit = 20,
    before: Before = None,
    before_key: BeforeKey = None,
    mode: Annotated[int | None, Query(ge=0, le=len(Mode.all()) - 1, description=MODES)] = None,
    status: Annotated[str | None, Query(description=", ".join(STATUSES))] = None,
    model: Annotated[str | None, Query(description="Model id")] = None,
    node_index: Annotated[int | None, Query(alias="node", ge=0, description="Winning node's index")] = None,
) -> dict[str, Any]:
    if before_key is not None and not HASH.fullmatch(before_key):
        raise HTTPException(422, detail="before_key: expected the previous page's next_before_key (an inference id)")
    if status is not None and status not in STATUSES:
        raise HTTPException(422, detail=f"status: {status!r} is not one of {', '.join(STATUSES)}")
    winner = None
    if node_index is not None:
        if node_index >= len(node.nodes):
            raise HTTPException(422, detail=f"node: {node_index} is not a node index (0..{len(node.nodes) - 1})")
        winner = node.nodes[node_index].address.lower()
    return queries.inferences(limit, before, mode, status, model, winner, before_key)


@router.get("/inferences/{ref}")
def get_inference(ref: str, node: NodeDep) -> dict[str, Any]:
    """An inference by its transaction hash, or a `runMany` call by its own id."""
    record = node.inference(hash32(ref, "inference id (a transaction hash or a runMany call id)"))
    if record is None:
        raise HTTPException(404, detail=f"no inference {ref}")
    return record


@router.get("/nodes")
def nodes(node: NodeDep) -> list[dict[str, Any]]:
    return node.node_info()


@router.get("/nodes/{index}")
def one_node(index: int, node: NodeDep) -> dict[str, Any]:
    info = node.node_info()
    if not 0 <= index < len(info):
        raise HTTPException(404, detail=f"no node {index}: nodes are 0..{len(info) - 1}")
    return info[index]


@router.get("/pipe")
def pipe_stats(node: NodeDep) -> dict[str, Any]:
    return orjson.loads(node.chain.pipe().stats_json())


@router.get("/stats")
def stats(node: NodeDep, queries: QueriesDep) -> dict[str, Any]:
    """Trust gap and result latency per mode over the latest 1000 settled inferences."""
    timings = node.store.settled_timings(limit=1000)
    by_mode = {m.name: [t for t in timings if t["mode"] == m] for m in Mode.by_strength()}
    return {
        "trust_gap_ms": {k: percentiles([t["trust_gap_ms"] for t in v if t["trust_gap_ms"] is not None]) for k, v in by_mode.items()},
        "latency_ms": {k: percentiles([t["latency_ms"] for t in v]) for k, v in by_mode.items()},
        "counts": queries.counts(),
        "pipe": orjson.loads(node.chain.pipe().stats_json()),
    }  # fmt: skip
