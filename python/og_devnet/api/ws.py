"""ws://host:port/ : JSON-RPC over WebSocket on the HTTP port, as anvil and hardhat serve it.

Each text (or binary) message is a JSON-RPC request or batch, answered through the same
dispatch as POST / in a worker thread, one at a time per connection. `eth_subscribe` /
`eth_unsubscribe` are answered here: `newHeads`, `logs` (address/topics filters) and
`newPendingTransactions`, notified exactly as geth sends them:

    {"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x..","result":..}}

Notifications are produced on the miner thread (`node.block_listeners`) and the RPC threads
(`node.tx_listeners`); they reach the connection's event loop by `call_soon_threadsafe`,
so the miner never waits for a client. Every connection has a bounded outbox: answers wait
for room (the client stops being read), notifications cannot wait, so a client that falls
`MAX_QUEUED_*` behind is closed with 1008 and a reason. A message larger than `MAX_MESSAGE`
closes the connection with 1009 before it is read (uvicorn enforces it, as geth does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool

from og_devnet.errors import (
    InvalidParams,
    InvalidRequest,
    LimitExceeded,
    ParseError,
    RpcError,
    SubscriptionNotFound,
    rpc_error,
)
from og_devnet.rpc import dispatch
from og_devnet.rpc.filters import LogCriteria, block_logs, new_id

if TYPE_CHECKING:
    from og_devnet.node import Node

log = logging.getLogger("og_devnet.ws")

router = APIRouter()

#: The largest message a client may send: uvicorn's `ws_max_size`, whose default this is.
MAX_MESSAGE = 16 * 1024 * 1024
#: Subscriptions one connection may hold.
MAX_SUBSCRIPTIONS = 128
#: Frames and characters waiting to be sent before a client counts as too slow.
MAX_QUEUED_FRAMES = 4096
MAX_QUEUED_CHARS = 16 * 1024 * 1024
#: Close code for a client that fell too far behind (RFC 6455: policy violation).
CLOSE_TOO_SLOW = 1008
#: uvicorn sends the close frame only once the client reads again; a client that never does
#: is left to the transport after this long.
CLOSE_WAIT_S = 10.0

_SUBSCRIPTION_METHODS = ("eth_subscribe", "eth_unsubscribe")


def _response(id_: Any, result: Any = None, error: BaseException | None = None) -> dict[str, Any]:
    if error is not None:
        return {"jsonrpc": "2.0", "id": id_, "error": rpc_error(error)}
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def notification(subscription: str, result_json: bytes) -> str:
    """geth's notification frame, around a result already serialised."""
    return '{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"%s","result":%s}}' % (
        subscription,
        result_json.decode(),
    )


def head_of(record: dict[str, Any]) -> dict[str, Any]:
    """newHeads: the block as eth_getBlockByNumber gives it, without its transactions."""
    return {k: v for k, v in record["block"].items() if k != "transactions"}


class Outbox:
    """Frames waiting to be sent. `offer` never waits (notifications); `put` waits for room
    (answers). A frame always fits an empty outbox, so one large answer is never refused."""

    def __init__(self, max_frames: int, max_chars: int) -> None:
        self.max_frames, self.max_chars = max_frames, max_chars
        self._frames: deque[str] = deque()
        self._chars = 0
        self._changed = asyncio.Event()

    def _fits(self, frame: str) -> bool:
        return not self._frames or (len(self._frames) < self.max_frames and self._chars + len(frame) <= self.max_chars)

    def _append(self, frame: str) -> None:
        self._frames.append(frame)
        self._chars += len(frame)
        self._changed.set()

    def offer(self, frame: str) -> bool:
        if not self._fits(frame):
            return False
        self._append(frame)
        return True

    async def put(self, frame: str) -> None:
        while not self._fits(frame):
            self._changed.clear()
            await self._changed.wait()
        self._append(frame)

    async def get(self) -> str:
        while not self._frames:
            self._changed.clear()
            await self._changed.wait()
        frame = self._frames.popleft()
        self._chars -= len(frame)
        self._changed.set()
        return frame


class Subscription:
    def __init__(self, kind: str, criteria: LogCriteria | None = None) -> None:
        self.id = new_id()
        self.kind = kind  # "newHeads" | "logs" | "newPendingTransactions"
        self.criteria = criteria


class Connection:
    """One WebSocket client: its outbox, its subscriptions and its hooks on the node."""

    def __init__(self, ws: WebSocket, node: Node) -> None:
        self.ws = ws
        self.node = node
        self.loop = asyncio.get_running_loop()
        self.outbox = Outbox(MAX_QUEUED_FRAMES, MAX_QUEUED_CHARS)
        self.subscriptions: dict[str, Subscription] = {}
        self._hooked = False
        self._too_slow = asyncio.Event()

    async def serve(self) -> None:
        tasks = [
            asyncio.create_task(self._read(), name="ws-read"),
            asyncio.create_task(self._write(), name="ws-write"),
            asyncio.create_task(self._too_slow.wait(), name="ws-too-slow"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and (exc := task.exception()) is not None:
                    log.error("WebSocket connection failed", exc_info=exc)
        finally:
            # Subscriptions die with their connection.
            self._unhook()
            self.subscriptions.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._too_slow.is_set():
            reason = f"client too slow: more than {self.outbox.max_frames} messages or {self.outbox.max_chars} characters waiting"
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(CLOSE_TOO_SLOW, reason[:123]), CLOSE_WAIT_S)

    # ---- the two directions ----
    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            body = data.encode() if data is not None else message.get("bytes") or b""
            await self._answer(body)

    async def _write(self) -> None:
        while True:
            frame = await self.outbox.get()
            try:
                await self.ws.send_text(frame)
            except Exception:
                return  # the client went away; serve() cleans up

    # ---- requests ----
    async def _answer(self, body: bytes) -> None:
        if b"subscribe" not in body:
            # The common case: exactly what POST / does with the same bytes.
            out = await run_in_threadpool(dispatch.handle, self.node, body)
            if out is not None:
                await self.outbox.put(out.decode())
            return
        try:
            payload = await run_in_threadpool(orjson.loads, body)
        except orjson.JSONDecodeError as e:
            await self.outbox.put(orjson.dumps(_response(None, error=ParseError(f"parse error: {e}"))).decode())
            return
        items = payload if isinstance(payload, list) else [payload]
        if isinstance(payload, list) and len(payload) > dispatch.MAX_BATCH:
            err = InvalidRequest(f"batch of {len(payload)} exceeds the limit of {dispatch.MAX_BATCH}")
            await self.outbox.put(orjson.dumps(_response(None, error=err)).decode())
            return
        mine = [r for r in items if isinstance(r, dict) and r.get("method") in _SUBSCRIPTION_METHODS]
        rest = [r for r in items if not (isinstance(r, dict) and r.get("method") in _SUBSCRIPTION_METHODS)]
        answers: list[Any] = []
        if rest:
            out = await run_in_threadpool(dispatch.handle, self.node, orjson.dumps(rest if isinstance(payload, list) else rest[0]))
            if out is not None:
                got = orjson.loads(out)
                answers.extend(got if isinstance(got, list) else [got])
        started: list[Subscription] = []
        for req in mine:
            answer = self._subscription_call(req, started)
            if answer is not None:
                answers.append(answer)
        if answers:
            await self.outbox.put(orjson.dumps(answers if isinstance(payload, list) else answers[0]).decode())
        # Only now: no notification can overtake the answer that names its subscription.
        for sub in started:
            self.subscriptions[sub.id] = sub

    def _subscription_call(self, req: dict[str, Any], started: list[Subscription]) -> dict[str, Any] | None:
        id_, notify = req.get("id"), "id" not in req
        try:
            if req.get("jsonrpc") != "2.0":
                raise InvalidRequest('invalid request: "jsonrpc" must be "2.0"')
            params = req.get("params", [])
            if not isinstance(params, list):
                raise InvalidParams("params must be a positional array")
            if req["method"] == "eth_subscribe":
                result: Any = self._subscribe(params, started)
            else:
                result = self._unsubscribe(params)
        except RpcError as exc:
            return None if notify else _response(id_, error=exc)
        return None if notify else _response(id_, result)

    def _subscribe(self, params: list[Any], started: list[Subscription]) -> str:
        if len(self.subscriptions) + len(started) >= MAX_SUBSCRIPTIONS:
            raise LimitExceeded(f"too many subscriptions on this connection (limit {MAX_SUBSCRIPTIONS}); unsubscribe some first")
        kind = params[0] if params else None
        if kind == "newHeads":
            sub = Subscription(kind)
        elif kind == "logs":
            sub = Subscription(kind, LogCriteria.parse(params[1] if len(params) > 1 else None, allow_block_hash=False))
        elif kind == "newPendingTransactions":
            if len(params) > 1 and params[1] not in (None, False):
                raise InvalidParams("newPendingTransactions: only transaction hashes are supported (fullTx false)")
            sub = Subscription(kind)
        else:
            raise InvalidParams(f"no {kind!r} subscription: use newHeads, logs or newPendingTransactions")
        self._hook()
        started.append(sub)
        return sub.id

    def _unsubscribe(self, params: list[Any]) -> bool:
        sid = params[0] if params else None
        if not isinstance(sid, str):
            raise InvalidParams(f"subscription id: expected a hex string, got {sid!r}")
        if self.subscriptions.pop(sid.lower(), None) is None:
            raise SubscriptionNotFound("subscription not found")
        return True

    # ---- notifications ----
    def _hook(self) -> None:
        if not self._hooked:
            self._hooked = True
            self.node.block_listeners.append(self._block_committed)
            self.node.tx_listeners.append(self._tx_pooled)

    def _unhook(self) -> None:
        if self._hooked:
            self._hooked = False
            with contextlib.suppress(ValueError):
                self.node.block_listeners.remove(self._block_committed)
            with contextlib.suppress(ValueError):
                self.node.tx_listeners.remove(self._tx_pooled)

    # Called on the miner / RPC threads: hand over, never wait.
    def _block_committed(self, record: dict[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing with the server
            self.loop.call_soon_threadsafe(self._notify_block, record)

    def _tx_pooled(self, tx_hash: str) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._notify_tx, tx_hash)

    # On the event loop.
    def _notify_block(self, record: dict[str, Any]) -> None:
        head: bytes | None = None
        logs: list[tuple[dict[str, Any], bytes]] | None = None
        for sub in list(self.subscriptions.values()):
            if sub.kind == "newHeads":
                head = head or orjson.dumps(head_of(record))
                self._send(notification(sub.id, head))
            elif sub.kind == "logs":
                if logs is None:
                    logs = [(lg, orjson.dumps({**lg, "removed": False})) for lg in block_logs(record)]
                assert sub.criteria is not None
                for lg, encoded in logs:
                    if sub.criteria.matches(lg):
                        self._send(notification(sub.id, encoded))

    def _notify_tx(self, tx_hash: str) -> None:
        encoded = orjson.dumps(tx_hash)
        for sub in list(self.subscriptions.values()):
            if sub.kind == "newPendingTransactions":
                self._send(notification(sub.id, encoded))

    def _send(self, frame: str) -> None:
        if self._too_slow.is_set():
            return
        if not self.outbox.offer(frame):
            self._too_slow.set()
            self._unhook()


@router.websocket("/")
async def json_rpc_ws(ws: WebSocket) -> None:
    await ws.accept()
    await Connection(ws, ws.app.state.node).serve()
