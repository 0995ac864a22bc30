"""The miner: seals blocks when the mining mode says so, commits each to the store before it
is published, and hands the committed record on. One lock orders sealing with the edits that
must not interleave with it (snapshots, reverts, balance edits)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from og_devnet._core import Chain
    from og_devnet.store import ChainStore

log = logging.getLogger("og_devnet.miner")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Miner:
    def __init__(self, chain: Chain, store: ChainStore, on_block: Callable[[dict[str, Any]], None]) -> None:
        self.chain = chain
        self.store = store
        #: Called with each committed and published block's record (settlement duties,
        #: events, listeners); its failures are its own.
        self.on_block = on_block
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="og-devnet-miner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def wake(self) -> None:
        """Something changed the schedule (the mining mode): look again now."""
        self._wake.set()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No block is sealed while the body runs."""
        with self._lock:
            yield

    def mine(self, count: int = 1) -> list[int]:
        """Seals `count` blocks now, each committed to the store before it is published."""
        numbers = []
        for _ in range(count):
            with self._lock:
                numbers.append(self._seal_commit_publish())
        return numbers

    def _loop(self) -> None:
        pipe = self.chain.pipe()
        decided = pipe.decided_count()
        while not self._stopping.is_set():
            task_due = self._send_due_runs()
            due = self.chain.next_block_due(now_ms())
            if due is None:
                # Automine: an inference decided after its request was answered still gets
                # its block, as soon as its race ends; and a proof that can settle gets one
                # too (asynchronous settlement needs a later block).
                auto = self.chain.mining_mode()[0] == "auto"
                if auto and ((now := pipe.decided_count()) != decided or self.chain.settlement_due(now_ms())):
                    decided = now
                    try:
                        self.mine(1)
                    except Exception:
                        log.exception("automine failed to seal a block")
                        self._wake.wait(0.5)  # do not spin while the store keeps failing
                    continue
                # Sleeps (without the GIL) until PIPE decides a job or something else may call
                # for a block (a proof, a challenge, a penalty, a new mining mode); 100 ms at
                # most, for stop and time-based deadlines.
                timeout = 100 if task_due is None else max(1, min(100, task_due - now_ms()))
                pipe.wait_decided_change(decided if auto else pipe.decided_count(), timeout)
                self._wake.clear()
                continue
            wake_at = due if task_due is None else min(due, task_due)
            delay = (wake_at - now_ms()) / 1000
            if delay > 0 and self._wake.wait(delay):
                self._wake.clear()  # mode changed or stopping: recompute
                continue
            if due > now_ms():
                continue  # woke for a scheduled run, sent at the top of the loop
            try:
                self._mine_if_due()
            except Exception:
                log.exception("sealing a block failed; retrying at the next slot")

    def _send_due_runs(self) -> int | None:
        """Sends the scheduled workflow runs now due (each races its inference while it
        waits for a block); returns when the next one falls due (wall-clock ms)."""
        now = now_ms()
        with self._lock:
            try:
                sent = self.chain.enqueue_due_tasks(now)
                next_due = self.chain.next_task_due_ms(now)
            except Exception:
                log.exception("sending scheduled workflow runs failed")
                return now + 1000
        if sent and self.chain.mining_mode()[0] == "auto":
            try:
                self.mine(1)
            except Exception:
                log.exception("automine failed to seal a block")
        # Due yet not sent (the scheduler account cannot pay, say): look again shortly.
        if next_due is not None and next_due <= now:
            return now + 100
        return next_due

    def _mine_if_due(self) -> None:
        # Checked again under the lock: the mode may have changed since the loop looked.
        with self._lock:
            due = self.chain.next_block_due(now_ms())
            if due is not None and due <= now_ms():
                self._seal_commit_publish()

    def _seal_commit_publish(self) -> int:
        sealed = self.chain.seal_block(now_ms())
        try:
            record = self.store.commit_block(sealed.record, sealed.stored)
        except BaseException:
            self.chain.discard_staged()
            raise
        self.chain.publish(sealed.number)
        self.on_block(record)
        return sealed.number
