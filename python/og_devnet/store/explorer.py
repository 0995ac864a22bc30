"""Read queries for the explorer: lists newest first, paged by a `before` cursor (a block
number), so a page costs the same at block 10 and at block 10 000."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from og_devnet._core import Chain, Status
from og_devnet.inference.catalog import MODE_NAMES
from og_devnet.store.tables import BlockRow, InferenceRow, TxRow, unpack_record

_INFERENCE_SUMMARY = ("id", "tx_hash", "call_index", "mode", "mode_name", "model_id", "status", "winner_node",
                      "t_request", "t_result", "t_included", "t_settled", "trust_gap_ms", "block_number")  # fmt: skip


def _page(items: list[dict[str, Any]], limit: int, key: str) -> dict[str, Any]:
    """A page and its cursor: (block, key within the block) of the last item, since the rows
    of one block may straddle two pages."""
    more = len(items) == limit
    return {"items": items, "next_before": items[-1]["block_number"] if more else None,
            "next_before_key": str(items[-1][key]) if more else None}  # fmt: skip


def block_summary(r: BlockRow) -> dict[str, Any]:
    return {"number": r.number, "hash": r.hash, "parent_hash": r.parent_hash, "timestamp_ms": r.timestamp_ms,
            "tx_count": r.tx_count, "gas_used": r.gas_used, "miner": r.miner, "settlement_count": r.settlement_count}  # fmt: skip


#: The hub and the precompile, lower case as the store keeps addresses.
INFERENCE_CONTRACTS = tuple(a.lower() for n, a in Chain.native_contracts() if n in ("inference_hub", "inference_precompile"))


def tx_summary(r: TxRow) -> dict[str, Any]:
    return {"hash": r.hash, "block_number": r.block_number, "tx_index": r.tx_index, "from": r.sender, "to": r.to,
            "value": r.value, "status": r.status, "gas_used": r.gas_used, "nonce": r.nonce,
            "is_inference": r.to in INFERENCE_CONTRACTS, "contract_address": r.contract_address}  # fmt: skip


class ExplorerQueries:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def blocks(self, limit: int, before: int | None) -> dict[str, Any]:
        with Session(self.engine) as s:
            q = select(BlockRow)
            if before is not None:
                q = q.where(BlockRow.number < before)
            rows = s.exec(q.order_by(col(BlockRow.number).desc()).limit(limit)).all()
            items = [block_summary(r) for r in rows]
        return {"items": items, "next_before": items[-1]["number"] if len(items) == limit else None}

    def block(self, ref: int | str) -> dict[str, Any] | None:
        with Session(self.engine) as s:
            row = s.get(BlockRow, ref) if isinstance(ref, int) else s.exec(select(BlockRow).where(BlockRow.hash == ref)).first()
            if row is None:
                return None
            stored = json.loads(unpack_record(row.record))
            txs = s.exec(select(TxRow).where(TxRow.block_number == row.number).order_by(col(TxRow.tx_index))).all()
            header = stored["header"]
            return {
                **block_summary(row), "gas_limit": header.get("gas_limit"), "state_root": header.get("state_root"),
                "settlements_root": header.get("settlements_root"),
                "transactions": [tx_summary(t) for t in txs],
                "settlements": [{k: st.get(k) for k in ("id", "tx_hash", "mode", "node", "outcome", "reason")}
                                | {"mode_name": MODE_NAMES.get(st.get("mode"), "?")} for st in stored.get("settlements", [])],
            }  # fmt: skip

    def txs(self, limit: int, before: int | None, address: str | None, before_index: int | None = None) -> dict[str, Any]:
        with Session(self.engine) as s:
            q = select(TxRow)
            if before is not None and before_index is not None:
                q = q.where((TxRow.block_number < before) | ((TxRow.block_number == before) & (TxRow.tx_index < before_index)))
            elif before is not None:
                q = q.where(TxRow.block_number < before)
            if address is not None:
                a = address.lower()
                q = q.where(or_(TxRow.sender == a, TxRow.to == a, TxRow.contract_address == a))
            rows = s.exec(q.order_by(col(TxRow.block_number).desc(), col(TxRow.tx_index).desc()).limit(limit)).all()
            return _page([tx_summary(r) for r in rows], limit, "tx_index")

    def tx(self, tx_hash: str) -> dict[str, Any] | None:
        with Session(self.engine) as s:
            row = s.get(TxRow, tx_hash.lower())
            return None if row is None else tx_summary(row)

    def creation(self, address: str) -> dict[str, Any] | None:
        """The transaction that created the contract at `address` (None for genesis code, an
        account a contract created, or one set with anvil_setCode)."""
        with Session(self.engine) as s:
            q = select(TxRow).where(TxRow.contract_address == address.lower())
            row = s.exec(q.order_by(col(TxRow.block_number).desc())).first()
            return None if row is None else tx_summary(row)

    def inferences(self, limit: int, before: int | None, mode: int | None, status: str | None,
                   model: str | None, winner: str | None, before_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        with Session(self.engine) as s:
            q = select(InferenceRow)
            for column, value in ((InferenceRow.mode, mode), (InferenceRow.status, status),
                                  (InferenceRow.model_id, model), (InferenceRow.winner, winner)):  # fmt: skip
                if value is not None:
                    q = q.where(column == value)
            if before is not None and before_id is not None:
                q = q.where((InferenceRow.block_number < before) | ((InferenceRow.block_number == before) & (InferenceRow.id < before_id.lower())))
            elif before is not None:
                q = q.where(InferenceRow.block_number < before)
            q = q.order_by(col(InferenceRow.block_number).desc(), col(InferenceRow.id).desc()).limit(limit)
            items = []
            for r in s.exec(q).all():
                rec = json.loads(r.record)
                items.append({k: rec.get(k) for k in _INFERENCE_SUMMARY} | {
                    "id": r.id, "status": r.status, "t_settled": r.t_settled, "trust_gap_ms": r.trust_gap_ms,
                    "block_number": r.block_number, "llm": "llm" in rec})  # fmt: skip
            return _page(items, limit, "id")

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as s:
            by_status = dict(s.exec(select(InferenceRow.status, func.count()).group_by(InferenceRow.status)).all())  # type: ignore[call-overload]
        final = (Status.SETTLED.value, Status.REJECTED.value, Status.SLASHED.value)
        return {"inferences": sum(by_status.values()), **{k: by_status.get(k, 0) for k in final}}
