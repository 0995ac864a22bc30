"""Tables. Big integers (wei) are decimal strings: SQLite integers stop at 2**63."""

from __future__ import annotations

import zlib

from sqlalchemy import BigInteger, LargeBinary
from sqlmodel import Field, SQLModel


class BlockRow(SQLModel, table=True):
    __tablename__ = "blocks"

    number: int = Field(primary_key=True, sa_type=BigInteger)
    hash: str = Field(index=True, unique=True)
    parent_hash: str
    timestamp: int = Field(sa_type=BigInteger)
    timestamp_ms: int = Field(sa_type=BigInteger)
    tx_count: int
    gas_used: int = Field(sa_type=BigInteger)
    miner: str
    settlement_count: int = 0
    #: The core's stored form of the block (header, raw txs, receipts, state changes):
    #: what a restart restores the chain from. zlib-compressed JSON (`pack_record`): an
    #: empty block's header is mostly zero bloom and roots, so it shrinks ~4x.
    record: bytes = Field(sa_type=LargeBinary)


def pack_record(record: str) -> bytes:
    # Level 1: a block of 60 inferences (2.4 MB of JSON, mostly hex calldata) compresses in
    # 8 ms instead of 18 (level 6) for 25 % more bytes; an empty block's record grows 3 %.
    return zlib.compress(record.encode(), 1)


def unpack_record(packed: bytes) -> str:
    return zlib.decompress(packed).decode()


class TxRow(SQLModel, table=True):
    __tablename__ = "transactions"

    hash: str = Field(primary_key=True)
    block_number: int = Field(index=True, foreign_key="blocks.number", ondelete="CASCADE", sa_type=BigInteger)
    tx_index: int
    sender: str = Field(index=True)
    to: str | None = Field(default=None, index=True)
    value: str
    nonce: int = Field(sa_type=BigInteger)
    tx_type: int
    status: int
    gas_used: int = Field(sa_type=BigInteger)
    effective_gas_price: str
    #: The account a creation (`to` NULL) made: its receipt's contractAddress.
    contract_address: str | None = Field(default=None, index=True)


class LogRow(SQLModel, table=True):
    __tablename__ = "logs"

    id: int | None = Field(default=None, primary_key=True)
    block_number: int = Field(index=True, foreign_key="blocks.number", ondelete="CASCADE", sa_type=BigInteger)
    tx_hash: str = Field(index=True)
    log_index: int
    address: str = Field(index=True)
    topic0: str | None = Field(default=None, index=True)
    topics: str  # JSON list
    data: str


class AccountRow(SQLModel, table=True):
    """Every account's latest value, including changes made between blocks
    (anvil_setBalance), which block records alone would not carry across a restart."""

    __tablename__ = "accounts"

    address: str = Field(primary_key=True)
    balance: str
    nonce: int = Field(sa_type=BigInteger)


class MetaRow(SQLModel, table=True):
    """Chain parameters fixed at genesis (chain id, mnemonic, ...), as JSON values."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str


class ModelRow(SQLModel, table=True):
    __tablename__ = "models"

    id: str = Field(primary_key=True)  # blake3 of the file
    name: str = Field(index=True)
    kind: str
    filename: str  # under the state directory's models/
    spec: str  # JSON: inputs, outputs, modes, context length
    size: int = Field(sa_type=BigInteger)
    registered_at: float


class InferenceRow(SQLModel, table=True):
    """An inference as it was when its block sealed (attempts, winner, timeline), updated as
    later blocks settle it. A `runMany` transaction has one row per call."""

    __tablename__ = "inferences"

    id: str = Field(primary_key=True)
    tx_hash: str = Field(index=True)
    call_index: int | None = None
    block_number: int = Field(index=True, foreign_key="blocks.number", ondelete="CASCADE", sa_type=BigInteger)
    model_id: str = Field(index=True)
    mode: int = Field(index=True)
    status: str = Field(index=True)
    winner: str | None = Field(default=None, index=True)
    t_request: int = Field(sa_type=BigInteger)
    t_result: int | None = Field(default=None, sa_type=BigInteger)
    t_included: int | None = Field(default=None, sa_type=BigInteger)
    t_settled: int | None = Field(default=None, sa_type=BigInteger)
    trust_gap_ms: int | None = Field(default=None, sa_type=BigInteger)
    #: The block of the latest settlement step (a revert undoes the steps after its head).
    last_step_block: int | None = Field(default=None, index=True, sa_type=BigInteger)
    record: str  # JSON, as og_getInference returns it


class PooledTxRow(SQLModel, table=True):
    """A transaction the pool accepted and no committed block holds yet: the pool's journal.
    `eth_sendRawTransaction` answers only once its transaction is here (or mined), so a node
    killed with `kill -9` resubmits it on restart instead of losing it."""

    __tablename__ = "pool_journal"

    seq: int | None = Field(default=None, primary_key=True)
    hash: str = Field(index=True)
    raw: bytes = Field(sa_type=LargeBinary)
