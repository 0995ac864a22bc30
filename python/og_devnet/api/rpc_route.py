"""POST / : the JSON-RPC endpoint."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from og_devnet.rpc import dispatch

router = APIRouter()

#: Bodies larger than this are refused while they are read (api/limits.py).
MAX_BODY = 16 * 1024 * 1024


def _refuse(status: int, detail: str) -> Response:
    return Response(status_code=status, content=orjson.dumps({"detail": detail}), media_type="application/json")


@router.post("/", include_in_schema=False)
async def json_rpc(request: Request) -> Response:
    # Only real JSON, as geth asks: a page on another origin can send text/plain without
    # asking the browser's permission (a CORS "simple request"), application/json it cannot.
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        shown = media_type[:60] or "none"
        return _refuse(415, f"JSON-RPC requests must be sent with Content-Type: application/json (this one has {shown})")
    try:
        body = await request.body()
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it
    # The chain releases the GIL for its heavy calls; a worker thread keeps the loop free.
    out = await run_in_threadpool(dispatch.handle, request.app.state.node, body)
    if out is None:
        return Response(status_code=204)
    return Response(content=out, media_type="application/json")
