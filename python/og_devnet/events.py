"""The node's live events (new block, inference delivered, proof submitted, settled, ...),
numbered in order and kept in a ring so a client that reconnects with `Last-Event-ID` gets
what it missed. Published from the miner and settlement threads; read by `/api/events`."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson

from og_devnet._core import Chain, Mode

#: Events kept for clients that reconnect (minutes of a busy devnet) ...
RING_SIZE = 20_000
#: ... within this many bytes of frames: memory stays bounded whatever the events carry, and
#: a client that comes back after more than that gets a `reset` and redraws.
RING_BYTES = 4 * 2**20
#: The account the chain sends scheduled workflow runs from, lower case as receipts have it.
SCHEDULER_ACCOUNT = Chain.scheduler_account().lower()


@dataclass(frozen=True, slots=True)
class Event:
    """One event, kept only as its SSE frame, serialised once when published: hundreds of
    clients replaying the ring share the bytes, and a full ring of 20 000 events costs a few
    MB rather than a dict per event."""

    id: int
    kind: str
    frame: bytes = field(repr=False, compare=False)

    @property
    def data(self) -> dict[str, Any]:
        payload = self.frame[self.frame.index(b"\ndata: ") + 7 : -2]
        return orjson.loads(payload)

    def sse(self) -> bytes:
        return self.frame


def _frame(id_: int, kind: str, data: dict[str, Any]) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (id_, kind.encode(), orjson.dumps(data))


class EventLog:
    """A fixed ring indexed by event id (slot = id % size), so reading a page of events after
    any id costs the page, not the ring."""

    def __init__(self, size: int = RING_SIZE, max_bytes: int = RING_BYTES) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._ring: list[Event | None] = [None] * size
        self._next = 1
        #: The oldest id still kept, and the bytes of the frames kept.
        self._first = 1
        self._bytes = 0
        self._lock = threading.Lock()

    def publish(self, kind: str, data: dict[str, Any]) -> Event:
        with self._lock:
            id_ = self._next
            event = Event(id_, sys.intern(kind), _frame(id_, kind, data))
            while self._first < id_ and (id_ - self._first >= self._size or self._bytes + len(event.frame) > self._max_bytes):
                old = self._ring[self._first % self._size]
                self._bytes -= len(old.frame) if old is not None else 0
                self._ring[self._first % self._size] = None
                self._first += 1
            self._ring[id_ % self._size] = event
            self._bytes += len(event.frame)
            self._next += 1
            return event

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._next - 1

    def since(self, last_id: int, limit: int | None = None) -> tuple[list[Event], bool]:
        """Events after `last_id` (at most `limit`, oldest first), and whether some were
        already dropped from the ring."""
        with self._lock:
            first = self._first  # the oldest id still kept
            missed = False
            if last_id >= self._next:
                # An id from the future: the client saw another run of this node (it
                # restarted). Everything kept is new to it, and it missed what it cannot get.
                last_id, missed = first - 1, True
            elif last_id + 1 < first:
                last_id, missed = first - 1, True
            end = self._next if limit is None else min(self._next, last_id + 1 + limit)
            events = [self._ring[i % self._size] for i in range(last_id + 1, end)]
            return [e for e in events if e is not None], missed


def block_events(log: EventLog, record: dict[str, Any]) -> None:
    """The events a committed block's record carries."""
    block = record["block"]
    log.publish("block", {
        "number": int(block["number"], 16), "hash": block["hash"], "timestamp_ms": int(block["timestampMs"], 16),
        "tx_count": len(block["transactions"]),
    })  # fmt: skip
    # The scheduler's runs, so a workflow's page redraws when one of its runs is mined.
    for receipt in record.get("receipts", []):
        if (receipt.get("from") or "").lower() == SCHEDULER_ACCOUNT:
            log.publish("workflow_run", {
                "contract": receipt.get("to"), "tx_hash": receipt.get("transactionHash"), "block_number": int(block["number"], 16),
                "ok": receipt.get("status") == "0x1", "timestamp_ms": int(block["timestampMs"], 16),
            })  # fmt: skip
    for inf in record.get("inferences", []):
        log.publish("inference", {k: inf.get(k) for k in (
            "id", "tx_hash", "mode", "mode_name", "status", "model_id", "winner_node", "t_result", "t_included",
            "block_number")})  # fmt: skip
        if inf["mode"] == Mode.TEE and inf["status"] == "delivered":
            # TEE evidence comes with the result; it is checked again at settlement.
            log.publish("proof_submitted", {"id": inf.get("id"), "tx_hash": inf["tx_hash"], "mode": int(Mode.TEE), "t_ms": inf["t_result"]})
    for st in record.get("settlements", []):
        gap = st["t_settled"] - st["t_result"] if st["outcome"] in ("settled", "rejected", "slashed") else None
        log.publish(st["outcome"], {
            "id": st["id"], "tx_hash": st["tx_hash"], "mode": st["mode"], "outcome": st["outcome"],
            "reason": st["reason"], "settlement_block": st["settlement_block"], "t_settled": st["t_settled"],
            "trust_gap_ms": gap, "node": st["node"],
        })  # fmt: skip
