"""Durable storage: blocks, transactions, receipts, logs and account state (sqlmodel).

`ChainStore` and `make_engine` are imported on first use (SQLAlchemy takes ~0.2 s to import):
`og_devnet.store.archive` and the node's first answers do not need them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from og_devnet.store.chain_store import ChainStore
    from og_devnet.store.engine import make_engine

__all__ = ["ChainStore", "make_engine"]


def __getattr__(name: str) -> Any:
    if name == "ChainStore":
        from og_devnet.store.chain_store import ChainStore

        return ChainStore
    if name == "make_engine":
        from og_devnet.store.engine import make_engine

        return make_engine
    raise AttributeError(f"module 'og_devnet.store' has no attribute {name!r}")
