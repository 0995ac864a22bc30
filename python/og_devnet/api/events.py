"""/api/events: the node's live events as Server-Sent Events. A client that reconnects with
`Last-Event-ID` (EventSource does so by itself) gets every event it missed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from og_devnet.api.deps import NodeDep
from og_devnet.events import EventLog

router = APIRouter(prefix="/api", tags=["events"])
POLL_S = 0.05
KEEPALIVE_S = 15.0
#: Events written at once while a client catches up.
PAGE = 128
#: What all streams together may write, in bytes per second (and at once, the burst). JSON-RPC
#: shares the loop: when 200 clients replaying the whole ring wrote as fast as they could read,
#: the loop spent all its time on them and eth_blockNumber's p99 went to 4.1 s. One client
#: still catches up on the whole ring (~6 MB) in a fraction of a second.
RATE = 48 * 1024 * 1024
BURST = 8 * 1024 * 1024
#: Event streams open at once; more get 503 (each open stream costs a poll every POLL_S).
MAX_STREAMS = 512
RESET = b"event: reset\ndata: {\"reason\": \"events since your Last-Event-ID are no longer kept\"}\n\n"


class Streams:
    """One app's event streams: how many are open, and the pace they share."""

    def __init__(self) -> None:
        self.open = 0
        self._allowance = float(BURST)
        self._at = time.monotonic()

    @staticmethod
    def of(request: Request) -> Streams:
        state = request.app.state
        if not hasattr(state, "event_streams"):
            state.event_streams = Streams()
        return state.event_streams

    async def pace(self, size: int) -> None:
        """Takes `size` bytes from the shared allowance, waiting off any debt first."""
        now = time.monotonic()
        self._allowance = min(BURST, self._allowance + (now - self._at) * RATE) - size
        self._at = now
        if self._allowance < 0:
            await asyncio.sleep(-self._allowance / RATE)


async def _stream(request: Request, log: EventLog, last: int, streams: Streams) -> AsyncIterator[bytes]:
    streams.open += 1
    try:
        yield b"retry: 1000\n\n"
        quiet = 0.0
        while True:
            events, missed = log.since(last, PAGE)
            # Older than the ring: say so, so the client reloads what it shows.
            page = (RESET if missed else b"") + b"".join(event.sse() for event in events)
            if events:
                last = events[-1].id
            if page:
                await streams.pace(len(page))
                yield page
                quiet = 0.0
                await asyncio.sleep(0)  # the others' turn, even when there is no debt
                continue
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
            if quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield b": keep-alive\n\n"
    finally:
        streams.open -= 1


@router.get("/events", response_class=StreamingResponse, responses={503: {"description": "Too many event streams open"}})
async def events(
    request: Request,
    node: NodeDep,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
    since: Annotated[int | None, Query(ge=0, description="Resume after this event id (as Last-Event-ID)")] = None,
) -> StreamingResponse:
    """Kinds: block, inference, proof_submitted, settled, rejected, disputed, slashed,
    penalised, node_fault, workflow_run (a scheduled run mined). Without Last-Event-ID, only
    events from now on."""
    streams = Streams.of(request)
    if streams.open >= MAX_STREAMS:
        raise HTTPException(503, detail=f"{MAX_STREAMS} event streams are open already; try again later",
                            headers={"Retry-After": "5"})  # fmt: skip
    start = last_event_id if last_event_id is not None else since if since is not None else node.events.last_id
    return StreamingResponse(_stream(request, node.events, start, streams), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip
