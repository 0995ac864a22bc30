"""The pool's journal: every transaction a client was given a hash for is durable before the
answer leaves — mined in a committed block, or written to a table beside the blocks — and a
node started again on the same state puts the journaled ones back into the pool."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from og_devnet._core import Chain
    from og_devnet.store import ChainStore
    from og_devnet.store.archive import ArchivedReads

log = logging.getLogger("og_devnet.pool_journal")


class PoolJournal:
    def __init__(self, chain: Chain, store: ChainStore, read: ArchivedReads, listeners: list[Callable[[str], Any]]) -> None:
        self.chain = chain
        self.store = store
        self.read = read
        #: Transactions pooled by the request this thread is answering.
        self._pooled = threading.local()
        #: Called with each transaction hash the pool accepts (newPendingTransactions, filters).
        self.listeners = listeners

    def pooled(self, tx_hash: str, raw: bytes | None = None) -> None:
        """The pool accepted `tx_hash`; `raw` is None for a transaction the node signed."""
        self._pooled.__dict__.setdefault("entries", []).append((tx_hash, raw))
        for listener in list(self.listeners):
            try:
                listener(tx_hash)
            except Exception:
                log.exception("a transaction listener failed")

    def flush(self) -> None:
        """Writes what this thread's request pooled and no committed block holds."""
        entries = self._pooled.__dict__.pop("entries", [])
        unmined = []
        for tx_hash, raw in entries:
            if self.read(self.chain.receipt_json, tx_hash) is not None:
                continue  # already in a committed block: durable there
            if raw is None:
                signed = self.read(self.chain.raw_transaction, tx_hash)  # signed by the node (eth_sendTransaction)
                raw = None if signed is None else bytes.fromhex(signed.removeprefix("0x"))
            if raw is not None:
                unmined.append((tx_hash, raw))
        if unmined:
            self.store.journal(unmined)

    def replay(self) -> int:
        """Transactions accepted before a crash and not mined: back into the pool, in the
        order they arrived. Those no longer valid (mined meanwhile, replaced, sent for an
        account no longer impersonated) are dropped. Returns how many came back."""
        dropped, replayed = [], 0
        for seq, raw in self.store.journaled():
            try:
                self.chain.submit_raw(raw)
                replayed += 1
            except Exception:
                dropped.append(seq)
        if dropped:
            self.store.forget_journaled(dropped)
        if replayed:
            log.info("resubmitted %d pooled transactions from the journal", replayed)
        return replayed
