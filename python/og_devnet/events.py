"""The node's live events (new block, inference delivered, proof submitted, settled, ...),
numbered in order and kept in a ring so a client that reconnects with `Last-Event-ID` gets
what it missed. Published from the miner and settlement threads; read by `/api/events`."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

#: Events kept for clients that reconnect (minutes of a busy devnet).
RING_SIZE = 20_000


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    data: dict[str, Any]

    def sse(self) -> bytes:
        return b"id: %d\nevent: %s\ndata: %s\n\n" % (self.id, self.kind.encode(), orjson.dumps(self.data))


class EventLog:
    def __init__(self, size: int = RING_SIZE) -> None:
        self._events: deque[Event] = deque(maxlen=size)
        self._next = 1
        self._lock = threading.Lock()

    def publish(self, kind: str, data: dict[str, Any]) -> Event:
        with self._lock:
            event = Event(self._next, kind, data)
            self._next += 1
            self._events.append(event)
            return event

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._next - 1

    def since(self, last_id: int) -> tuple[list[Event], bool]:
        """Events after `last_id`, and whether some were already dropped from the ring."""
        with self._lock:
            if last_id >= self._next:
                # An id from the future: the client saw another run of this node (it
                # restarted). Everything kept is new to it, and it missed what it cannot get.
                return list(self._events), True
            if not self._events or last_id >= self._events[-1].id:
                return [], False
            first = self._events[0].id
            missed = last_id + 1 < first
            start = max(0, last_id + 1 - first)
            return [self._events[i] for i in range(start, len(self._events))], missed


def block_events(log: EventLog, record: dict[str, Any]) -> None:
    """The events a committed block's record carries."""
    block = record["block"]
    log.publish("block", {
        "number": int(block["number"], 16), "hash": block["hash"], "timestamp_ms": int(block["timestampMs"], 16),
        "tx_count": len(block["transactions"]),
    })  # fmt: skip
    for inf in record.get("inferences", []):
        log.publish("inference", {k: inf.get(k) for k in (
            "id", "tx_hash", "mode", "mode_name", "status", "model_id", "winner_node", "t_result", "t_included",
            "block_number")})  # fmt: skip
        if inf["mode"] == 2 and inf["status"] == "delivered":
            # TEE evidence comes with the result; it is checked again at settlement.
            log.publish("proof_submitted", {"id": inf.get("id"), "tx_hash": inf["tx_hash"], "mode": 2, "t_ms": inf["t_result"]})
    for st in record.get("settlements", []):
        gap = st["t_settled"] - st["t_result"] if st["outcome"] in ("settled", "rejected", "slashed") else None
        log.publish(st["outcome"], {
            "id": st["id"], "tx_hash": st["tx_hash"], "mode": st["mode"], "outcome": st["outcome"],
            "reason": st["reason"], "settlement_block": st["settlement_block"], "t_settled": st["t_settled"],
            "trust_gap_ms": gap, "node": st["node"],
        })  # fmt: skip
