"""The JSON-RPC 2.0 envelope: parsing, single and batch requests, notifications, errors. It
answers with whatever methods are registered (`registry.METHODS`) and imports none of them:
`dispatch` imports them all and answers every request; the node's front answers its early
ones (`early`) here before the rest is imported."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from og_devnet.errors import (
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    RpcError,
    rpc_error,
)
from og_devnet.rpc.registry import METHODS, RpcContext

if TYPE_CHECKING:
    from og_devnet.node import Node

log = logging.getLogger("og_devnet.rpc")

#: A batch larger than this is refused as a whole (anvil/geth have similar limits).
MAX_BATCH = 1000


def _error(id_: Any, exc: BaseException) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": rpc_error(exc)}


def _resolve(req: dict[str, Any]) -> tuple[Any, list[Any]]:
    """The handler and params of a request object, or the error that refuses it."""
    if req.get("jsonrpc") != "2.0":
        raise InvalidRequest('invalid request: "jsonrpc" must be "2.0"')
    name = req.get("method")
    if not isinstance(name, str):
        raise InvalidRequest('invalid request: "method" must be a string')
    handler = METHODS.get(name)
    if handler is None:
        raise MethodNotFound(f"the method {name} does not exist/is not available")
    params = req.get("params", [])
    if isinstance(params, dict):
        raise InvalidParams("params must be a positional array")
    if not isinstance(params, list):
        raise InvalidParams("params must be an array")
    return handler, params


def _failed(req: dict[str, Any], exc: BaseException) -> dict[str, Any] | None:
    """The answer to a request whose handler raised (or returned) `exc`."""
    if not isinstance(exc, RpcError) and rpc_error(exc)["code"] == -32603:
        log.error("internal error in %s", req.get("method"), exc_info=exc)
    return None if "id" not in req else _error(req.get("id"), exc)


def _call(ctx: RpcContext, req: Any) -> dict[str, Any] | None:
    if not isinstance(req, dict):
        return _error(None, InvalidRequest("invalid request: expected a JSON object"))
    try:
        handler, params = _resolve(req)
        result = handler(ctx, params)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # every error (a Rust panic too) becomes a wire error
        return _failed(req, exc)
    return None if "id" not in req else {"jsonrpc": "2.0", "id": req.get("id"), "result": result}


def _one_by_one(ctx: RpcContext, payload: list[Any]) -> list[dict[str, Any]]:
    """Each request of a batch answered in order."""
    return [a for a in (_call(ctx, req) for req in payload) if a is not None]


Batch = Callable[[RpcContext, list[Any]], list[dict[str, Any]]]


def handle(node: Node, body: bytes, batch: Batch = _one_by_one) -> bytes | None:
    """Answers one HTTP body, a batch with `batch`. Returns None when there is nothing to send
    (notifications)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        return orjson.dumps(_error(None, ParseError(f"parse error: {e}")))
    ctx = RpcContext(node)
    if isinstance(payload, list):
        if not payload:
            return orjson.dumps(_error(None, InvalidRequest("invalid request: empty batch")))
        if len(payload) > MAX_BATCH:
            return orjson.dumps(_error(None, InvalidRequest(f"batch of {len(payload)} exceeds the limit of {MAX_BATCH}")))
        out: Any = batch(ctx, payload) or None
    else:
        out = _call(ctx, payload)
    if ctx.submitted:
        try:
            node.after_submit()
        except Exception:
            # The transactions are pooled and their hashes answered; the next block takes them.
            log.exception("automine failed to seal a block")
    return None if out is None else orjson.dumps(out)
