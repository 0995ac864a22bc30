"""What the HTTP server serves from its first moment: `FrontApp`, a thin ASGI app in front of
the full one (`og_devnet.api.create_app`: FastAPI, REST, the explorer), which the node builds in
the background while its models, inference nodes and store finish starting.

Until the full app is there, the front answers only small JSON-RPC calls to `POST /` from
programs (no Origin header) with a Host the node serves, whose methods read nothing but the
chain's head and identity (`og_devnet.rpc.early`: a client's "is it up, which chain is it"
questions), through the same envelope and methods as later (`og_devnet.rpc.dispatch` imports
all the others, in the background).
Everything else waits for the full app (at most `Settings.start_timeout`, then 503 with the
reason), so no request is ever answered from a half-started node. Once the full app is set,
the front hands every request straight to it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import orjson

from og_devnet.api.security import AccessPolicy, host_name
from og_devnet.rpc import envelope
from og_devnet.rpc.early import EARLY_METHODS

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from og_devnet.node import Node

#: Bigger bodies wait for the full app (and its body limits).
EARLY_MAX_BODY = 64 * 1024


class FrontApp:
    def __init__(self, node: Node, policy: AccessPolicy) -> None:
        self.node = node
        #: The full app, once built; from then on every request goes straight to it.
        self.app: ASGIApp | None = None
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.app
        if app is not None:
            await app(scope, receive, send)
        elif self.node.answer_early and self.node.start_failure() is None and _may_answer_early(scope, self.policy):
            await self._answer_early(scope, receive, send)
        else:
            await self._forward(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Waits for the full app, then hands it the request (503 if the start failed or did
        not finish within the node's start_timeout)."""
        deadline = time.monotonic() + self.node.settings.start_timeout
        while self.app is None:
            failure = self.node.start_failure()
            if failure is not None or time.monotonic() > deadline:
                reason = failure or f"the node is still starting after {self.node.settings.start_timeout:g} s ({self.node.starting})"
                await _unavailable(scope, send, reason)
                return
            await asyncio.sleep(0.005)
        await self.app(scope, receive, send)

    async def _answer_early(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request `_may_answer_early` let through."""
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if len(body) > EARLY_MAX_BODY or not _all_early(body):
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self._forward(scope, replay, send)
            return
        # As the full app does it (the same envelope and methods, without importing the
        # others): in a worker thread, so the event loop stays free.
        out = await asyncio.get_running_loop().run_in_executor(None, envelope.handle, self.node, body)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(out or b"")).encode())]
        await send({"type": "http.response.start", "status": 200 if out is not None else 204, "headers": headers})
        await send({"type": "http.response.body", "body": out or b""})


def _may_answer_early(scope: Scope, policy: AccessPolicy) -> bool:
    """A plain JSON-RPC POST to / from a program (no Origin: not a page in a browser, so CORS
    is the full app's business), small enough to read whole, with a Host the node serves
    (anything else waits for the full app's guards, and their answers)."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/":
        return False
    content_type, length, host = b"", None, None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = value
        elif name == b"host" and host is None:
            host = value
        elif name == b"origin":
            return False
    if length is None or not length.strip().isdigit() or int(length) > EARLY_MAX_BODY:
        return False
    if host is not None:
        name = host_name(host.decode("latin-1"))
        local = str((scope.get("server") or ("", 0))[0])
        if name is None or not policy.host_allowed(name, local):
            return False
    return content_type.partition(b";")[0].strip().lower() == b"application/json"


def _all_early(body: bytes) -> bool:
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    calls = payload if isinstance(payload, list) else [payload]
    return bool(calls) and all(isinstance(c, dict) and c.get("method") in EARLY_METHODS for c in calls)


async def _unavailable(scope: Scope, send: Send, reason: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013, "reason": reason[:120]})
        return
    if scope["type"] != "http":
        return
    body = orjson.dumps({"detail": reason})
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
