"""The explorer's event ring is bounded by count and by bytes, and says when it dropped some."""

from __future__ import annotations

from og_devnet.events import EventLog


def test_ring_keeps_the_newest_events_within_its_byte_budget() -> None:
    log = EventLog(size=1000, max_bytes=2000)
    for i in range(500):
        log.publish("inference", {"id": i, "pad": "x" * 50})
    kept, missed = log.since(0)
    assert missed  # the first ones were dropped, and a client resuming from 0 is told so
    assert sum(len(e.sse()) for e in kept) <= 2000
    assert [e.id for e in kept] == list(range(501 - len(kept), 501))
    assert kept[-1].data == {"id": 499, "pad": "x" * 50}
    # A client that is up to date misses nothing.
    assert log.since(kept[0].id) == (kept[1:], False)


def test_ring_keeps_at_most_its_size() -> None:
    log = EventLog(size=10)
    for i in range(25):
        log.publish("block", {"number": i})
    kept, missed = log.since(0)
    assert [e.id for e in kept] == list(range(16, 26)) and missed
