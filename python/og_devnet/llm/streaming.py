"""One generation in a worker thread, its pieces handed to the event loop through an asyncio
queue, and the SSE events a stream is sent as.

The worker holds the model's runtime (shared with the inference nodes) for the whole
generation, so it must end promptly once nobody listens: leaving the iteration (the client
disconnected and Starlette cancelled the response) sets `cancel`, which the runtime checks
at every token."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

from og_devnet.inference.runtimes import Generation

log = logging.getLogger("og_devnet.llm")

#: Makes the generator (in the worker thread): given the event that cancels it.
Make = Callable[[threading.Event], Generator[str, None, Generation]]


class Generating:
    """`await Generating(make).start()`, then `async for piece in it` (or `await finish()`);
    `result` is the Generation once the pieces are through."""

    def __init__(self, make: Make, slow: float = 1.0, name: str = "og-devnet-llm-generate") -> None:
        self._make, self._name = make, name
        #: A slow node (fault slow:FACTOR) takes FACTOR× as long: each piece is held back by
        #: (FACTOR - 1)× the time it took, outside the runtime's lock, as the nodes' delay is.
        self.slow = slow
        self.cancel = threading.Event()
        self.result: Generation | None = None
        self._queue: asyncio.Queue[tuple[str | Generation | BaseException, float]] = asyncio.Queue()
        self._head: str | Generation | None = None

    async def start(self) -> Generating:
        """Starts the worker and waits for the first piece, so that a request the model refuses
        (a prompt over the context, a bad grammar) raises here, before any response starts."""
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._work, args=(loop,), name=self._name, daemon=True).start()
        try:
            if self.slow > 1:
                await pause(0.005 * self.slow)
            self._head = await self._next()
        except BaseException:
            self.cancel.set()  # an error, or the request cancelled: stop the worker too
            raise
        return self

    def _work(self, loop: asyncio.AbstractEventLoop) -> None:
        def put(item: str | Generation | BaseException, spent: float) -> None:
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, (item, spent))
            except RuntimeError:  # the event loop is closed (the gateway stopped): nobody listens
                self.cancel.set()

        generator: Generator[str, None, Generation] | None = None
        try:
            generator = self._make(self.cancel)
            while True:
                began = time.monotonic()
                try:
                    piece = next(generator)
                except StopIteration as end:
                    put(end.value, time.monotonic() - began)
                    return
                put(piece, time.monotonic() - began)
        except BaseException as e:  # handed to the request, which answers with an error
            put(e, 0.0)
        finally:
            if generator is not None:
                generator.close()  # releases the runtime if the generation was cut short

    async def _next(self) -> str | Generation:
        item, spent = await self._queue.get()
        if self.slow > 1:
            await pause(spent * (self.slow - 1))
        if isinstance(item, BaseException):
            raise item
        return item

    async def __aiter__(self) -> AsyncIterator[str]:
        item = self._head
        try:
            while isinstance(item, str):
                yield item
                item = await self._next()
        finally:
            if not isinstance(item, Generation):  # the client left (the response was cancelled)
                self.cancel.set()
                log.debug("LLM gateway: a stream ended early; its generation is cancelled")
        self.result = item if isinstance(item, Generation) else None

    async def finish(self) -> Generation:
        async for _ in self:
            pass
        assert self.result is not None
        return self.result


async def pause(seconds: float) -> None:
    """A slow node's delay (a hook for tests)."""
    await asyncio.sleep(seconds)


def event(head: dict[str, Any], delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
    """One `data: {chunk}` SSE event (the SDK keeps only lines starting "data: ", with the space)."""
    chunk = {**head, "object": "chat.completion.chunk",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}  # fmt: skip
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
