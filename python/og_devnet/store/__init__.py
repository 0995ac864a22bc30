"""Durable storage: blocks, transactions, receipts, logs and account state (sqlmodel)."""

from og_devnet.store.chain_store import ChainStore
from og_devnet.store.engine import make_engine

__all__ = ["ChainStore", "make_engine"]
