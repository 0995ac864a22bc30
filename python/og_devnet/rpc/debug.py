"""geth's `debug_trace*` methods: a transaction re-executed on the EVM with a tracer
(`callTracer`, `prestateTracer`, or the default struct logger), computed by the Rust core."""

from __future__ import annotations

import json
from typing import Any

from og_devnet.errors import InvalidParams
from og_devnet.rpc import params as p
from og_devnet.rpc.registry import RpcContext, method


def _options(params: list[Any], index: int) -> str | None:
    options = p.arg(params, index, "options", required=False)
    if options is None:
        return None
    if not isinstance(options, dict):
        raise InvalidParams(f"options: expected an object such as {{\"tracer\": \"callTracer\"}}, got {options!r}")
    return json.dumps(options)


@method("debug_traceTransaction")
def trace_transaction(ctx: RpcContext, params: list[Any]) -> Any:
    tx_hash = p.hash32(p.arg(params, 0, "transactionHash"), "transactionHash")
    return json.loads(ctx.node.read(ctx.node.chain.trace_transaction, tx_hash, _options(params, 1)))


@method("debug_traceBlockByNumber", "debug_traceBlockByHash")
def trace_block(ctx: RpcContext, params: list[Any]) -> Any:
    first = p.arg(params, 0, "block")
    # A 32-byte hash names a block as well as a number or tag does.
    block = p.hash32(first, "block") if isinstance(first, str) and len(first) == 66 else p.block_tag(first)
    return json.loads(ctx.node.read(ctx.node.chain.trace_block, block, _options(params, 1)))


@method("debug_traceCall")
def trace_call(ctx: RpcContext, params: list[Any]) -> Any:
    req = p.tx_request(p.arg(params, 0, "transaction"))
    tag = p.block_tag(p.arg(params, 1, "block", required=False, default="latest"))
    return json.loads(ctx.node.chain.trace_call(req, tag, _options(params, 2)))
