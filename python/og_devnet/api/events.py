"""/api/events: the node's live events as Server-Sent Events. A client that reconnects with
`Last-Event-ID` (EventSource does so by itself) gets every event it missed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from og_devnet.api.deps import NodeDep
from og_devnet.events import EventLog

router = APIRouter(prefix="/api", tags=["events"])
POLL_S = 0.05
KEEPALIVE_S = 15.0


async def _stream(request: Request, log: EventLog, last: int) -> AsyncIterator[bytes]:
    yield b"retry: 1000\n\n"
    quiet = 0.0
    while not await request.is_disconnected():
        events, missed = log.since(last)
        if missed:
            # Older than the ring: say so, so the client reloads what it shows.
            yield b"event: reset\ndata: {\"reason\": \"events since your Last-Event-ID are no longer kept\"}\n\n"
        for event in events:
            yield event.sse()
            last = event.id
        if events:
            quiet = 0.0
            continue
        await asyncio.sleep(POLL_S)
        quiet += POLL_S
        if quiet >= KEEPALIVE_S:
            quiet = 0.0
            yield b": keep-alive\n\n"


@router.get("/events", response_class=StreamingResponse)
async def events(
    request: Request,
    node: NodeDep,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
    since: Annotated[int | None, Query(ge=0, description="Resume after this event id (as Last-Event-ID)")] = None,
) -> StreamingResponse:
    """Kinds: block, inference, proof_submitted, settled, rejected, disputed, slashed,
    penalised, node_fault. Without Last-Event-ID, only events from now on."""
    start = last_event_id if last_event_id is not None else since if since is not None else node.events.last_id
    return StreamingResponse(_stream(request, node.events, start), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip
