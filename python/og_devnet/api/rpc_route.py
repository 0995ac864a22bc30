"""POST / : the JSON-RPC endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from og_devnet.rpc import dispatch

router = APIRouter()

#: Bodies larger than this are refused before parsing.
MAX_BODY = 16 * 1024 * 1024


@router.post("/", include_in_schema=False)
async def json_rpc(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(status_code=413, content=b'{"detail":"request body too large"}', media_type="application/json")
    # The chain releases the GIL for its heavy calls; a worker thread keeps the loop free.
    out = await run_in_threadpool(dispatch.handle, request.app.state.node, body)
    if out is None:
        return Response(status_code=204)
    return Response(content=out, media_type="application/json")
