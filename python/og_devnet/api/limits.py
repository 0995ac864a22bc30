"""Request bodies are bounded while they are read, not after: a declared Content-Length over
the limit gets 413 before a byte of the body is read, and a chunked body is counted as it
streams and refused as soon as it passes the limit. Pure ASGI, in front of every route."""

from __future__ import annotations

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from og_devnet.api import rpc_route
from og_devnet.inference import catalog

#: Bodies of routes that take no real body (POST /api/teach/samples, unknown routes).
DEFAULT_LIMIT = 64 * 1024
#: Multipart framing and the small form fields around an uploaded model file.
MULTIPART_ROOM = 1024 * 1024


def body_limit(method: str, path: str) -> int:
    """The most body bytes a request may send. Read at call time: tests lower the caps."""
    if path == "/":
        return rpc_route.MAX_BODY
    if method == "POST" and path.rstrip("/") == "/api/models":
        # The route checks the file itself against the cap; this bounds the rest.
        return catalog.MAX_MODEL_BYTES + MULTIPART_ROOM
    return DEFAULT_LIMIT


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _too_large(send, limit, scope["path"])
            return
        received = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not response_started:
                await _too_large(send, limit, scope["path"])


async def _too_large(send: Send, limit: int, path: str) -> None:
    body = orjson.dumps({"detail": f"the request body is over the limit of {limit} bytes for {path[:100]}"})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})
