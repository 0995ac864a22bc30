"""What the node persists of the chain, and reads back on restart."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from og_devnet._core import InferenceRecord, Status, aggregate_inferences

if TYPE_CHECKING:
    from og_devnet._core import SealedBlock
from og_devnet.store.tables import (
    AccountRow, BlockRow, InferenceRow, LogRow, MetaRow, ModelRow, PooledTxRow, TxRow, pack_record, unpack_record,
)  # fmt: skip


def _int(hex_or_int: Any) -> int:
    return int(hex_or_int, 16) if isinstance(hex_or_int, str) else int(hex_or_int)


def _upsert(s: Session, table: Any, rows: list[dict[str, Any]], key: str) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE, in the dialect of the session's database."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(table)
    s.connection().execute(stmt.on_conflict_do_update(index_elements=[key], set_={c: stmt.excluded[c] for c in rows[0] if c != key}), rows)


class ChainStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- genesis parameters ----
    def meta(self) -> dict[str, Any]:
        with Session(self.engine) as s:
            return {row.key: json.loads(row.value) for row in s.exec(select(MetaRow))}

    def initialise(self, meta: dict[str, Any], genesis: SealedBlock, accounts: list[tuple[str, int, int]]) -> None:
        """Writes the genesis parameters, block 0 and the funded accounts in one transaction."""
        with Session(self.engine) as s:
            for key, value in meta.items():
                s.add(MetaRow(key=key, value=json.dumps(value)))
            self._add_block(s, json.loads(genesis.record), genesis.stored)
            for address, balance, nonce in accounts:
                s.add(AccountRow(address=address.lower(), balance=str(balance), nonce=nonce))
            s.commit()

    # ---- blocks ----
    def commit_block(self, record: str, stored: str) -> dict[str, Any]:
        """Stores a sealed block (`stored`, as the core made it), its transactions, receipts,
        logs, inferences, settlement steps and the accounts it changed (from `record`), in one
        database transaction. Returns the record, parsed.
        Rows go in as Core bulk statements: this runs once per block (per transaction under
        automine), and the ORM's unit of work cost more than the block itself."""
        try:
            rec = orjson.loads(record)  # ~10x json.loads on a block of transfers
        except orjson.JSONDecodeError:  # an integer beyond 64 bits (orjson's limit)
            rec = json.loads(record)
        with Session(self.engine) as s:
            self._add_block(s, rec, stored)
            self._settle(s, rec.get("settlements", []))
            # Unsettled results, saved with the block when they changed: a restart resumes them.
            if "unsettled" in rec:
                _upsert(s, MetaRow, [{"key": "unsettled", "value": json.dumps(rec["unsettled"])}], "key")
            changes = rec["state_changes"]
            if changes:
                _upsert(s, AccountRow, [{"address": a.lower(), "balance": str(_int(acc["balance"])), "nonce": acc["nonce"]}
                                        for a, acc in changes], "address")  # fmt: skip
            if mined := [tx["hash"] for tx in rec["block"]["transactions"]]:
                s.exec(delete(PooledTxRow).where(PooledTxRow.hash.in_(mined)))  # type: ignore[call-overload,attr-defined]
            s.commit()
        return rec

    # ---- the pool's journal ----
    def journal(self, entries: list[tuple[str, bytes]]) -> None:
        """Makes accepted transactions durable (one database transaction for them all)."""
        with Session(self.engine) as s:
            s.connection().execute(insert(PooledTxRow), [{"hash": h, "raw": raw} for h, raw in entries])
            s.commit()

    def journaled(self) -> list[tuple[int, bytes]]:
        """Accepted transactions no committed block holds, in the order they arrived."""
        with Session(self.engine) as s:
            return [(r.seq, r.raw) for r in s.exec(select(PooledTxRow).order_by(PooledTxRow.seq))]  # type: ignore[arg-type,misc]

    def forget_journaled(self, seqs: list[int]) -> None:
        with Session(self.engine) as s:
            s.exec(delete(PooledTxRow).where(PooledTxRow.seq.in_(seqs)))  # type: ignore[call-overload,union-attr]
            s.commit()

    @staticmethod
    def _add_block(s: Session, rec: dict[str, Any], stored: str) -> None:
        block = rec["block"]
        number = _int(block["number"])
        conn = s.connection()
        conn.execute(insert(BlockRow), [{
            "number": number, "hash": block["hash"], "parent_hash": block["parentHash"],
            "timestamp": _int(block["timestamp"]), "timestamp_ms": _int(block["timestampMs"]),
            "tx_count": len(block["transactions"]), "gas_used": _int(block["gasUsed"]), "miner": block["miner"],
            "settlement_count": len(rec.get("settlements", [])),
            "record": pack_record(stored),
        }])  # fmt: skip
        txs, logs = [], []
        for tx, receipt in zip(block["transactions"], rec["receipts"], strict=True):
            txs.append({
                "hash": tx["hash"], "block_number": number, "tx_index": _int(tx["transactionIndex"]),
                "sender": tx["from"].lower(), "to": tx["to"].lower() if tx["to"] else None,
                "value": str(_int(tx["value"])), "nonce": _int(tx["nonce"]), "tx_type": _int(tx["type"]),
                "status": _int(receipt["status"]), "gas_used": _int(receipt["gasUsed"]),
                "effective_gas_price": str(_int(receipt["effectiveGasPrice"])),
                "contract_address": (receipt.get("contractAddress") or "").lower() or None,
            })  # fmt: skip
            logs += [{
                "block_number": number, "tx_hash": tx["hash"], "log_index": _int(log["logIndex"]),
                "address": log["address"].lower(), "topic0": log["topics"][0] if log["topics"] else None,
                "topics": json.dumps(log["topics"]), "data": log["data"],
            } for log in receipt["logs"]]  # fmt: skip
        if txs:
            conn.execute(insert(TxRow), txs)
        if logs:
            conn.execute(insert(LogRow), logs)
        # The records as the core made them at inclusion (VANILLA already settled, OPTIMISTIC
        # windows open): saved as given, with the columns the queries filter on.
        inferences = []
        for inf in rec.get("inferences", []):
            inferences.append({
                "id": inf["id"].lower(), "tx_hash": inf["tx_hash"].lower(),
                "call_index": inf.get("call_index"), "block_number": number, "model_id": inf["model_id"],
                "mode": inf["mode"], "status": inf["status"], "winner": (inf.get("winner_address") or "").lower() or None,
                "t_request": inf["t_request"], "t_result": inf.get("t_result"), "t_included": inf.get("t_included"),
                "t_settled": inf.get("t_settled"), "trust_gap_ms": inf.get("trust_gap_ms"),
                "last_step_block": None, "record": json.dumps(inf),
            })  # fmt: skip
        if inferences:
            conn.execute(insert(InferenceRow), inferences)

    # ---- models and inferences ----
    def save_model(self, info: dict[str, Any], filename: str) -> None:
        spec = {k: info[k] for k in ("inputs", "outputs", "context_length", "kind")} | {"zkml": info.get("zkml_enabled", False)}
        with Session(self.engine) as s:
            s.merge(ModelRow(id=info["id"], name=info["name"], kind=info["kind"], filename=filename,
                             spec=json.dumps(spec), size=info["size"], registered_at=info["registered_at"]))  # fmt: skip
            s.commit()

    def models(self) -> list[dict[str, Any]]:
        with Session(self.engine) as s:
            rows = s.exec(select(ModelRow).order_by(ModelRow.registered_at)).all()  # type: ignore[arg-type]
            return [{"id": r.id, "name": r.name, "filename": r.filename, "registered_at": r.registered_at,
                     "zkml": json.loads(r.spec).get("zkml", False)} for r in rows]  # fmt: skip

    def inference(self, tx_hash: str) -> dict[str, Any] | None:
        """An inference by its transaction hash; a `runMany` transaction's calls together,
        settled when every call is."""
        with Session(self.engine) as s:
            rows = s.exec(select(InferenceRow).where(InferenceRow.tx_hash == tx_hash.lower()).order_by(InferenceRow.call_index)).all()  # type: ignore[arg-type]
            if not rows:
                row = s.get(InferenceRow, tx_hash.lower())  # a runMany call by its own id
                return None if row is None else json.loads(row.record)
            if len(rows) == 1 and rows[0].call_index is None:
                return json.loads(rows[0].record)
            return json.loads(aggregate_inferences(tx_hash.lower(), [r.record for r in rows]))

    def inferences(self, limit: int = 50, before_block: int | None = None) -> list[dict[str, Any]]:
        """Latest inferences first (one per call)."""
        with Session(self.engine) as s:
            q = select(InferenceRow).order_by(InferenceRow.block_number.desc(), InferenceRow.t_request.desc())  # type: ignore[attr-defined]
            if before_block is not None:
                q = q.where(InferenceRow.block_number < before_block)
            return [json.loads(r.record) for r in s.exec(q.limit(limit))]

    def settled_timings(self, model_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Mode, latency and trust gap of recently settled inferences (og_quote, /api/stats)."""
        cols = (InferenceRow.mode, InferenceRow.t_request, InferenceRow.t_result, InferenceRow.trust_gap_ms)
        with Session(self.engine) as s:
            q = select(*cols).where(InferenceRow.status == Status.SETTLED.value)
            if model_id is not None:
                q = q.where(InferenceRow.model_id == model_id)
            rows = s.exec(q.order_by(InferenceRow.block_number.desc()).limit(limit)).all()  # type: ignore[attr-defined]
            return [{"mode": m, "latency_ms": (tr or rq) - rq, "trust_gap_ms": gap} for m, rq, tr, gap in rows]

    @staticmethod
    def _settle(s: Session, settlements: list[dict[str, Any]]) -> None:
        """A later block took a settlement step for inferences delivered earlier: the core
        applies it to the stored record. An LLM batch delivers and settles its answers in the
        same block: their rows, added by `_add_block` in this transaction, are found here too."""
        for st in settlements:
            row = s.get(InferenceRow, st["id"].lower())
            if row is None:
                continue
            record = InferenceRecord.from_json(row.record)
            record.apply(json.dumps(st))
            _save(row, record)
            s.add(row)

    def save_unsettled(self, deliveries_json: str) -> None:
        with Session(self.engine) as s:
            s.merge(MetaRow(key="unsettled", value=deliveries_json))
            s.commit()

    def stored_blocks(self) -> Iterator[str]:
        """Every block's record, block 0 first, streamed: a long chain's records are never in
        memory together (`Chain.restore` reads them once)."""
        with Session(self.engine) as s:
            rows = s.exec(select(BlockRow.record).order_by(BlockRow.number).execution_options(yield_per=256))  # type: ignore[arg-type]
            for packed in rows:
                yield unpack_record(packed)

    def block_records(self, numbers: Iterable[int]) -> list[tuple[int, str]]:
        """The records of blocks `numbers` (those that exist), for `Chain.load_bodies`."""
        wanted = sorted(set(numbers))
        out: list[tuple[int, str]] = []
        with Session(self.engine) as s:
            # In chunks: SQLite caps the parameters of one statement.
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                q = select(BlockRow.number, BlockRow.record).where(BlockRow.number.in_(chunk))  # type: ignore[attr-defined]
                out += [(n, unpack_record(packed)) for n, packed in s.exec(q)]
        return out

    # ---- accounts ----
    def accounts(self) -> list[tuple[str, int, int]]:
        with Session(self.engine) as s:
            return [(r.address, int(r.balance), r.nonce) for r in s.exec(select(AccountRow))]

    def save_account(self, address: str, balance: int, nonce: int) -> None:
        with Session(self.engine) as s:
            s.merge(AccountRow(address=address.lower(), balance=str(balance), nonce=nonce))
            s.commit()

    def revert_to(self, head: int, accounts: list[tuple[str, int, int]]) -> None:
        """Drops every block after `head` and replaces the account table (evm_revert).
        Inferences delivered before `head` lose the settlement steps taken after it."""
        with Session(self.engine) as s:
            touched = s.exec(select(InferenceRow).where(InferenceRow.block_number <= head, InferenceRow.last_step_block > head))  # type: ignore[operator]
            for row in touched:
                record = InferenceRecord.from_json(row.record)
                record.revert_to(head)
                _save(row, record)
                s.add(row)
            s.exec(delete(LogRow).where(LogRow.block_number > head))  # type: ignore[call-overload]
            s.exec(delete(InferenceRow).where(InferenceRow.block_number > head))  # type: ignore[call-overload]
            s.exec(delete(TxRow).where(TxRow.block_number > head))  # type: ignore[call-overload]
            s.exec(delete(BlockRow).where(BlockRow.number > head))  # type: ignore[call-overload]
            s.exec(delete(AccountRow))  # type: ignore[call-overload]
            for address, balance, nonce in accounts:
                s.add(AccountRow(address=address.lower(), balance=str(balance), nonce=nonce))
            s.commit()


def _save(row: InferenceRow, record: InferenceRecord) -> None:
    """A record the core moved on, into its row: as given, and the columns queries filter on."""
    row.status, row.t_settled, row.trust_gap_ms = record.status.value, record.t_settled, record.trust_gap_ms
    row.last_step_block = record.last_step_block
    row.record = record.to_json()


def aggregate(tx_hash: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """One view of a `runMany` transaction: its calls, and the status of the whole (the
    core's `ManyRecord`)."""
    result: dict[str, Any] = json.loads(aggregate_inferences(tx_hash, [json.dumps(c) for c in calls]))
    return result
