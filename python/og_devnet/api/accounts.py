"""/api/accounts/{address} and /api/search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from og_devnet._core import Chain
from og_devnet.api.deps import ADDRESS, HASH, Limit, NodeDep, QueriesDep, address

router = APIRouter(prefix="/api", tags=["accounts"])
#: The native contracts (hub, precompiles, ...) by address: their code is a short marker.
NATIVE = {a.lower(): name for name, a in Chain.native_contracts()}


@router.get("/accounts/{addr}")
def account(addr: str, node: NodeDep, queries: QueriesDep, limit: Limit = 20) -> dict[str, Any]:
    """An account: balance, nonce, its role on the devnet, whether it holds code (and which
    transaction created it), and its latest transactions."""
    addr = address(addr)
    stakes = {Chain.stake_address(n.address).lower(): n.index for n in node.nodes}
    nodes = {n.address.lower(): n.index for n in node.nodes}
    code_size = (len(node.chain.code(addr, "latest")) - 2) // 2
    creation = queries.creation(addr) if code_size else None
    return {
        "address": addr, "balance": str(node.chain.balance(addr, "latest")), "nonce": node.chain.nonce(addr, "latest"),
        "stake_of": stakes.get(addr.lower()), "node": nodes.get(addr.lower()),
        "is_watcher": addr.lower() == node.chain.watcher().lower(),
        "is_contract": code_size > 0, "code_size": code_size,
        "creation_tx": None if creation is None else creation["hash"],
        "creation_block": None if creation is None else creation["block_number"],
        "native_contract": NATIVE.get(addr.lower()),
        "txs": queries.txs(limit, None, addr)["items"],
    }  # fmt: skip


@router.get("/search")
def search(node: NodeDep, queries: QueriesDep, q: Annotated[str, Query(min_length=1, max_length=200)]) -> dict[str, Any]:
    """Where a block number, tx hash, block hash, inference id, address or model id leads."""
    q = q.strip()
    if q.isascii() and q.isdecimal() and len(q) <= 18 and queries.block(int(q)) is not None:
        return {"kind": "block", "path": f"/block/{int(q)}"}
    if HASH.fullmatch(q):
        h = q.lower()
        if node.inference(h) is not None:
            return {"kind": "inference", "path": f"/inference/{h}"}
        if node.read(node.chain.transaction_json, h) is not None:
            return {"kind": "tx", "path": f"/tx/{h}"}
        if (b := queries.block(h)) is not None:
            return {"kind": "block", "path": f"/block/{b['number']}"}
    if ADDRESS.fullmatch(q):
        return {"kind": "address", "path": f"/address/{q}"}
    model = q.removeprefix("0x").lower()
    if node.catalog.get(model) is not None or any(m["name"] == q for m in node.catalog.list()):
        return {"kind": "model", "path": "/models"}
    raise HTTPException(404, detail=f"nothing matches {q!r}: try a block number, a transaction hash, an address or an inference id")
