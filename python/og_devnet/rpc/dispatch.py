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


def _is_raw_send(req: Any) -> bool:
    return (
        isinstance(req, dict)
        and req.get("method") == "eth_sendRawTransaction"
        and METHODS.get("eth_sendRawTransaction") is eth.send_raw_transaction
    )


def _send_raw_run(ctx: RpcContext, reqs: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Consecutive eth_sendRawTransaction requests of a batch, answered as `_call` answers
    each, in order, with one call to the chain for all the well-formed ones."""
    out: list[dict[str, Any] | None] = [None] * len(reqs)
    sent: list[tuple[int, bytes]] = []
    for i, req in enumerate(reqs):
        try:
            _resolve(req)
            sent.append((i, eth.raw_transaction_param(req.get("params", []))))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            out[i] = _failed(req, exc)
    if sent:
        try:
            results = eth.send_raw_transactions(ctx, [raw for _, raw in sent])
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # the call as a whole failed: so does each request
            results = [exc] * len(sent)
        for (i, _), r in zip(sent, results):
            req = reqs[i]
            if isinstance(r, BaseException):
                out[i] = _failed(req, r)
            elif "id" in req:
                out[i] = {"jsonrpc": "2.0", "id": req.get("id"), "result": r}
    return out


def _batch(ctx: RpcContext, payload: list[Any]) -> list[dict[str, Any]]:
    """Each request answered in order; each maximal run of two or more eth_sendRawTransaction
    requests goes to the chain as one call (the same answers, one GIL release, parallel
    sender recovery)."""
    answers: list[dict[str, Any] | None] = []
    i = 0
    while i < len(payload):
        j = i
        while j < len(payload) and _is_raw_send(payload[j]):
            j += 1
        if j - i >= 2:
            answers.extend(_send_raw_run(ctx, payload[i:j]))
            i = j
        else:
            answers.append(_call(ctx, payload[i]))
            i += 1
    return [a for a in answers if a is not None]


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
        out: Any = _batch(ctx, payload) or None
    else:
        out = _call(ctx, payload)
    if ctx.submitted:
        try:
            node.after_submit()
        except Exception:
            # The transactions are pooled and their hashes answered; the next block takes them.
            log.exception("automine failed to seal a block")
    return None if out is None else orjson.dumps(out)
