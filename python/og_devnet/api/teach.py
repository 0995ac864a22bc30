"""POST /api/teach/samples: the teaching view's button — one sample inference of the fixture
MLP in each mode it supports, sent together from a dev account so the modes race side by side."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from og_devnet._core import Chain, CoreError, Mode, encode_run_call
from og_devnet.api.deps import NodeDep

router = APIRouter(prefix="/api/teach", tags=["teaching"])
SAMPLE = [{"name": "input", "values": [["25", "2"], ["-15", "1"], ["3", "0"], ["125", "3"]], "shape": [1, 4]}]


def _send(node: Any) -> list[dict[str, Any]]:
    mlp = next((m for m in node.catalog.list() if m["name"] == "mlp"), None)
    accounts = node.chain.dev_accounts()
    if mlp is None or not accounts:
        raise HTTPException(409, detail="the teaching samples need the fixture model mlp and a dev account (start without --no-fixtures)")
    sender = accounts[-1][0]  # the last dev account: out of the way of the class's own
    sent = []
    hub = dict(Chain.native_contracts())["inference_hub"]
    for m in Mode.by_strength():
        mode, name = int(m), m.name
        if name not in mlp["modes"]:
            continue
        data = "0x" + encode_run_call(mlp["id"], mode, json.dumps(SAMPLE), "[]").hex()
        try:
            tx = node.chain.send_transaction({"from": sender, "to": hub, "data": data, "gas": 400_000})
        except CoreError as e:
            node.after_submit()  # what was sent still gets its block
            raise HTTPException(409, detail=f"could not send the {name} sample from {sender}: {e}"
                                + (f" (sent before it: {', '.join(t['mode_name'] for t in sent)})" if sent else "")) from e
        sent.append({"mode": mode, "mode_name": name, "tx_hash": tx})
    node.after_submit()
    return sent


@router.post("/samples")
async def samples(node: NodeDep) -> dict[str, Any]:
    txs = await run_in_threadpool(_send, node)
    out: dict[str, Any] = {"txs": txs}
    if node.chain.mining_mode()[0] == "manual":
        out["note"] = "mining is manual: mine a block (evm_mine, og-devnet mine) to see them delivered"
    return out
