"""/api/blocks and /api/txs: the chain's blocks and transactions, newest first."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException

from og_devnet._core import BodyArchived, Chain, CoreError
from og_devnet.api.deps import ADDRESS, MAX_INT, Before, BeforeKey, Limit, NodeDep, QueriesDep, hash32
from og_devnet.store.explorer import INFERENCE_CONTRACTS

router = APIRouter(prefix="/api", tags=["blocks"])
#: Call frames deeper than this are left out of /txs/{hash}/calls (JSON encoders stop at ~250).
MAX_DEPTH = 100
NATIVE = {n: a.lower() for n, a in Chain.native_contracts()}
PRECOMPILE = NATIVE["inference_precompile"]
#: OGHistorical (0x..F5) runs a model only for `runInferenceOnPriceFeed`; its other functions
#: (queryHistoricalCandles) are reads.
HISTORICAL, PRICE_FEED_INFERENCE = NATIVE["og_historical"], "0xa192a0f9"


@router.get("/blocks")
def list_blocks(queries: QueriesDep, limit: Limit = 20, before: Before = None) -> dict[str, Any]:
    return queries.blocks(limit, before)


@router.get("/blocks/{ref}")
def get_block(ref: str, queries: QueriesDep) -> dict[str, Any]:
    """A block by number (decimal or 0x hex) or by hash."""
    key: int | str
    if ref.isascii() and ref.isdecimal() and len(ref) <= 78:
        key = int(ref)
    elif ref.startswith("0x") and len(ref) == 66:
        key = hash32(ref, "block hash")
    elif ref.startswith("0x") and 2 < len(ref) <= 18:
        try:
            key = int(ref, 16)
        except ValueError:
            raise HTTPException(422, detail=f"block: {ref!r} is not a number or a block hash") from None
    else:
        raise HTTPException(422, detail=f"block: {ref!r} is not a number or a block hash")
    block = queries.block(key) if not isinstance(key, int) or key <= MAX_INT else None
    if block is None:
        raise HTTPException(404, detail=f"no block {ref}")
    return block


@router.get("/txs")
def list_txs(queries: QueriesDep, limit: Limit = 20, before: Before = None, before_key: BeforeKey = None,
             address: str | None = None) -> dict[str, Any]:  # fmt: skip
    if address is not None and not ADDRESS.fullmatch(address):
        raise HTTPException(422, detail=f"address: expected 0x and 40 hex digits, got {address!r}")
    if before_key is not None and not (before_key.isascii() and before_key.isdecimal() and len(before_key) <= 9):
        raise HTTPException(422, detail="before_key: expected the previous page's next_before_key (a transaction index)")
    return queries.txs(limit, before, address, None if before_key is None else int(before_key))


@router.get("/txs/{tx_hash}")
def get_tx(tx_hash: str, node: NodeDep, queries: QueriesDep) -> dict[str, Any]:
    tx_hash = hash32(tx_hash, "transaction hash")
    raw = node.read(node.chain.transaction_json, tx_hash)
    if raw is None:
        raise HTTPException(404, detail=f"no transaction {tx_hash}")
    tx = orjson.loads(raw)
    receipt = orjson.loads(r) if (r := node.read(node.chain.receipt_json, tx_hash)) else None
    mined = queries.tx(tx_hash)
    return {
        "hash": tx["hash"], "block_number": None if mined is None else mined["block_number"], "from": tx["from"],
        "to": tx["to"], "value": str(int(tx["value"], 16)), "nonce": int(tx["nonce"], 16), "input": tx["input"],
        "status": None if receipt is None else int(receipt["status"], 16),
        "gas_used": None if receipt is None else int(receipt["gasUsed"], 16),
        "effective_gas_price": None if receipt is None else str(int(receipt["effectiveGasPrice"], 16)),
        "logs": [] if receipt is None else [{k: log[k] for k in ("address", "topics", "data")} for log in receipt["logs"]],
        "contract_address": None if receipt is None else receipt.get("contractAddress"),
        "revert_reason": None if receipt is None else receipt.get("revertReason"),
        "inference": node.inference(tx_hash),
    }  # fmt: skip


@router.get("/txs/{tx_hash}/calls")
def get_tx_calls(tx_hash: str, node: NodeDep) -> dict[str, Any]:
    """The transaction's calls as geth's callTracer gives them (type, from, to, value, gas,
    gasUsed, input, output, error, calls[]), each frame with `is_inference` (a call to the
    inference hub or precompile, or OGHistorical's runInferenceOnPriceFeed) and, for a call to
    the precompile or runInferenceOnPriceFeed, `inference_call`: its place among them, which
    is the call_index of its inference record (the chain numbers both kinds in call order)."""
    tx_hash = hash32(tx_hash, "transaction hash")
    if node.read(node.chain.transaction_json, tx_hash) is None:
        raise HTTPException(404, detail=f"no transaction {tx_hash}")
    if node.read(node.chain.receipt_json, tx_hash) is None:
        raise HTTPException(404, detail=f"transaction {tx_hash} is not mined yet: its calls are traced once it is in a block")
    try:
        frame = orjson.loads(node.read(node.chain.trace_transaction, tx_hash, '{"tracer":"callTracer"}'))
    except BodyArchived:
        raise HTTPException(503, detail=f"transaction {tx_hash}: its block was busy being read back from the store; try again") from None
    except CoreError as e:
        raise HTTPException(422, detail=f"transaction {tx_hash} cannot be traced: {e}") from None
    # Depth first, in call order (the order the precompile serves results in), without
    # recursion: the EVM nests up to 1024 frames. Deeper than MAX_DEPTH, calls are counted only.
    calls = 0
    stack: list[tuple[dict[str, Any], int]] = [(frame, 0)]
    while stack:
        f, depth = stack.pop()
        to = (f.get("to") or "").lower()
        on_feed = to == HISTORICAL and (f.get("input") or "")[:10].lower() == PRICE_FEED_INFERENCE
        f["is_inference"] = to in INFERENCE_CONTRACTS or on_feed
        if to == PRECOMPILE or on_feed:
            f["inference_call"], calls = calls, calls + 1
        children = f.get("calls") or []
        if depth == MAX_DEPTH and children:
            f["calls_not_shown"] = len(children)
            f["calls"] = []
        stack += [(c, depth + 1) for c in reversed(children)]
    return frame
