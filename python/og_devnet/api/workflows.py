"""/api/workflows: the workflow scheduler's tasks and their runs, in og_workflows' shape."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query

from og_devnet.api.deps import NodeDep
from og_devnet.rpc.og import MAX_RECENT_RUNS

router = APIRouter(prefix="/api", tags=["workflows"])
Recent = Annotated[int, Query(ge=0, le=MAX_RECENT_RUNS, description="Runs kept per task, the newest (oldest first)")]


def tasks(node: NodeDep, recent: int, task_id: int | None = None) -> list[dict[str, Any]]:
    return orjson.loads(node.chain.workflows_json(recent, task_id))


@router.get("/workflows")
def list_workflows(node: NodeDep, recent: Recent = 20) -> list[dict[str, Any]]:
    """Each task (id, contract, owner, endTime, frequency, nextRun, runs, failures, cancelled,
    active, modelId, inputName, query) with its last `recent` runs: block, due, txHash, ok,
    timestamp, timestampMs and output (the first value of its first inference result)."""
    return tasks(node, recent)


@router.get("/workflows/{task_id}")
def get_workflow(task_id: int, node: NodeDep, recent: Recent = 200) -> dict[str, Any]:
    """One task by its id, with its last `recent` runs (default 200: enough to plot)."""
    # Task ids are u64 in the core; larger ones cannot exist.
    found = next(iter(tasks(node, recent, task_id)), None) if 0 <= task_id < 2**64 else None
    if found is None:
        raise HTTPException(404, detail=f"no workflow task {task_id} (GET /api/workflows lists them)")
    return found
