"""Every JSON-RPC method, and the answer to one HTTP body (`handle`): the envelope
(`envelope`) with batches that send their runs of raw transactions in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from og_devnet.rpc import debug, dev, early, envelope, eth, filters, og  # noqa: F401  (register their methods)
from og_devnet.rpc.envelope import MAX_BATCH, _call, _error, _failed, _resolve  # noqa: F401
from og_devnet.rpc.registry import METHODS, RpcContext

if TYPE_CHECKING:
    from og_devnet.node import Node


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
    return envelope.handle(node, body, _batch)
