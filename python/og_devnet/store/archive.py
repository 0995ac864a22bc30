"""Reads of old blocks. The chain keeps the bodies (transactions, receipts, logs) of recent
blocks only; a read that needs an older one raises `BodyArchived` naming every block it needs.
`ArchivedReads` is the one place that answers it: it loads those blocks' records from the
store into the chain's small cache and asks once more. Every chain read of blocks,
transactions, receipts, logs or fee history goes through it:

    node.read(node.chain.receipt_json, tx_hash)

The chain never calls back into Python for a body: it would do so under its own lock, which
threads holding the GIL may be waiting for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from og_devnet._core import BodyArchived

if TYPE_CHECKING:
    from og_devnet._core import Chain
    from og_devnet.store.chain_store import ChainStore

P = ParamSpec("P")
T = TypeVar("T")


class ArchivedReads:
    def __init__(self, chain: Chain, store: ChainStore) -> None:
        self.chain = chain
        self.store = store

    def __call__(self, read: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`read(*args, **kwargs)`, with the archived bodies it needs loaded first if it asks
        for them. Retried once: if another thread's load pushed them out meanwhile (the cache
        is small), the BodyArchived of the retry reaches the caller, who may ask again."""
        try:
            return read(*args, **kwargs)
        except BodyArchived as e:
            self.chain.load_bodies(self.store.block_records(e.args[1]))
        return read(*args, **kwargs)
