"""The JSON-RPC 2.0 envelope: single and batch requests, notifications, errors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from og_devnet.errors import InvalidParams, InvalidRequest, MethodNotFound, ParseError, RpcError, rpc_error
from og_devnet.rpc import debug, dev, eth, filters, og  # noqa: F401  (register their methods)
from og_devnet.rpc.registry import METHODS, RpcContext

if TYPE_CHECKING:
    from og_devnet.node import Node

log = logging.getLogger("og_devnet.rpc")

#: A batch larger than this is refused as a whole (anvil/geth have similar limits).
MAX_BATCH = 1000


def _error(id_: Any, exc: BaseException) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": rpc_error(exc)}


def _call(ctx: RpcContext, req: Any) -> dict[str, Any] | None:
    if not isinstance(req, dict):
        return _error(None, InvalidRequest("invalid request: expected a JSON object"))
    id_ = req.get("id")
    is_notification = "id" not in req
    try:
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
        result = handler(ctx, params)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # every error (a Rust panic too) becomes a wire error
        if not isinstance(exc, RpcError) and rpc_error(exc)["code"] == -32603:
            log.exception("internal error in %s", req.get("method"))
        return None if is_notification else _error(id_, exc)
    return None if is_notification else {"jsonrpc": "2.0", "id": id_, "result": result}


def handle(node: Node, body: bytes) -> bytes | None:
    """Answers one HTTP body. Returns None when there is nothing to send (notifications)."""
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
        responses = [r for r in (_call(ctx, req) for req in payload) if r is not None]
        out: Any = responses or None
    else:
        out = _call(ctx, payload)
    if ctx.submitted:
        try:
            node.after_submit()
        except Exception:
            # The transactions are pooled and their hashes answered; the next block takes them.
            log.exception("automine failed to seal a block")
    return None if out is None else orjson.dumps(out)
