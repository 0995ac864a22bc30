"""Polled filters (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter), answered as geth answers them.

One `FilterManager` per node, made on first use. It buffers what each filter has not yet
been asked for: block hashes and log objects from the node's committed blocks
(`node.block_listeners`, on the miner thread) and transaction hashes from the pool
(`node.tx_listeners`). Memory stays bounded: filters nobody polls for five minutes expire
(geth's timeout), at most `MAX_FILTERS` live at once, and a filter that falls more than
`MAX_BUFFERED` entries behind is dropped and says so at its next poll rather than silently
losing entries.

`LogCriteria` (address and topics, with geth's block-range rule) is shared with the
WebSocket `logs` subscription.
"""

from __future__ import annotations

import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from og_devnet.errors import (
    FilterNotFound,
    InvalidParams,
    LimitExceeded,
    MethodNotFound,
)
from og_devnet.rpc import params as p
from og_devnet.rpc.registry import RpcContext, method

if TYPE_CHECKING:
    from og_devnet.node import Node

#: geth's filter timeout: a filter not polled for this long is removed.
FILTER_TIMEOUT_S = 300.0
#: Live filters per node; installing one more is refused until some expire or are removed.
MAX_FILTERS = 1024
#: Entries (hashes or logs) one filter may hold between polls.
MAX_BUFFERED = 4096


# ---- log criteria ----


@dataclass(frozen=True)
class LogCriteria:
    addresses: frozenset[str] = frozenset()
    #: Position i: None matches any topic (geth: null or []), else the log's topic i must be
    #: one of the set.
    topics: tuple[frozenset[str] | None, ...] = ()
    from_block: int | str = "latest"
    to_block: int | str = "latest"
    block_hash: str | None = None

    @classmethod
    def parse(cls, v: Any, *, allow_block_hash: bool = True) -> LogCriteria:
        """A filter object as eth_newFilter / eth_subscribe("logs") take it, parsed as
        eth_getLogs parses it."""
        f = p.log_filter({} if v is None else v)
        if not allow_block_hash and f["block_hash"] is not None:
            raise InvalidParams("filter: blockHash is not supported by a logs subscription")
        from_block, to_block = f["from_block"], f["to_block"]
        if isinstance(from_block, int) and isinstance(to_block, int) and from_block > to_block:
            raise InvalidParams(f"filter: fromBlock {from_block} is after toBlock {to_block}")
        return cls(
            addresses=frozenset(a.lower() for a in f["addresses"]),
            topics=tuple(None if not t else frozenset(x.lower() for x in t) for t in f["topics"]),
            from_block=from_block,
            to_block=to_block,
            block_hash=None if f["block_hash"] is None else f["block_hash"].lower(),
        )

    def matches(self, log: dict[str, Any]) -> bool:
        """A log of a newly committed block. As in geth, only numeric bounds limit new logs
        (a tag such as "latest" does not)."""
        if self.block_hash is not None and log["blockHash"].lower() != self.block_hash:
            return False
        number = int(log["blockNumber"], 16)
        if isinstance(self.from_block, int) and number < self.from_block:
            return False
        if isinstance(self.to_block, int) and number > self.to_block:
            return False
        if self.addresses and log["address"].lower() not in self.addresses:
            return False
        topics = log["topics"]
        for i, wanted in enumerate(self.topics):
            if wanted is not None and (i >= len(topics) or topics[i].lower() not in wanted):
                return False
        return True

    def query(self, node: Node) -> list[dict[str, Any]]:
        """The logs already on chain (eth_getFilterLogs), through the same query as eth_getLogs."""
        if self.block_hash is not None:
            bounds: dict[str, Any] = {"from_block": "latest", "to_block": "latest", "block_hash": self.block_hash}
        else:
            bounds = {"from_block": self.from_block, "to_block": self.to_block}
        return orjson.loads(
            node.read(
                node.chain.logs_json,
                **bounds,
                addresses=sorted(self.addresses),
                topics=[None if t is None else sorted(t) for t in self.topics],
            )
        )


def block_logs(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every log of a committed block's record, in log-index order."""
    for receipt in record.get("receipts", ()):
        yield from receipt.get("logs", ())


# ---- filters ----


@dataclass
class _Filter:
    kind: str  # "logs" | "blocks" | "pending"
    deadline: float
    criteria: LogCriteria | None = None
    buffer: list[Any] = field(default_factory=list)
    overflowed: bool = False

    def add(self, item: Any) -> None:
        if self.overflowed:
            return
        if len(self.buffer) >= MAX_BUFFERED:
            # Stop holding anything: the next poll reports the loss and removes the filter.
            self.overflowed = True
            self.buffer = []
            return
        self.buffer.append(item)


def new_id() -> str:
    """A random 128-bit id as a hex quantity, as geth makes filter and subscription ids."""
    return hex(secrets.randbits(128) or 1)


class FilterManager:
    """The node's polled filters. Thread-safe: fed on the miner and RPC threads, polled on
    RPC worker threads."""

    def __init__(self, node: Node, clock: Callable[[], float] = time.monotonic) -> None:
        # Weakly: the node's listener lists hold this manager, not the other way round.
        self._node = weakref.ref(node)
        self.clock = clock
        self._filters: dict[str, _Filter] = {}
        self._lock = threading.Lock()
        node.block_listeners.append(self.on_block)
        node.tx_listeners.append(self.on_tx)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._filters)

    # ---- feeding (miner / RPC threads) ----
    def on_block(self, record: dict[str, Any]) -> None:
        block_hash = record["block"]["hash"]
        logs = None
        with self._lock:
            self._expire()
            for f in self._filters.values():
                if f.kind == "blocks":
                    f.add(block_hash)
                elif f.kind == "logs":
                    if logs is None:
                        logs = list(block_logs(record))
                    assert f.criteria is not None
                    for log in logs:
                        if f.criteria.matches(log):
                            f.add(log)

    def on_tx(self, tx_hash: str) -> None:
        with self._lock:
            for f in self._filters.values():
                if f.kind == "pending":
                    f.add(tx_hash)

    # ---- the RPC side ----
    def install(self, kind: str, criteria: LogCriteria | None = None) -> str:
        with self._lock:
            self._expire()
            if len(self._filters) >= MAX_FILTERS:
                raise LimitExceeded(
                    f"too many filters: {MAX_FILTERS} are installed; uninstall some "
                    f"(filters not polled for {FILTER_TIMEOUT_S:.0f} s expire)"
                )
            fid = new_id()
            self._filters[fid] = _Filter(kind, self.clock() + FILTER_TIMEOUT_S, criteria)
            return fid

    def changes(self, fid: str) -> list[Any]:
        with self._lock:
            f = self._live(fid)
            if f.overflowed:
                del self._filters[fid]
                raise LimitExceeded(
                    f"filter {fid} fell more than {MAX_BUFFERED} entries behind and was removed; install a new one and poll it more often"
                )
            f.deadline = self.clock() + FILTER_TIMEOUT_S
            out, f.buffer = f.buffer, []
            return out

    def criteria(self, fid: str) -> LogCriteria:
        """A log filter's criteria (eth_getFilterLogs). geth answers other kinds "filter not found"."""
        with self._lock:
            f = self._live(fid)
            if f.criteria is None:
                raise FilterNotFound("filter not found")
            return f.criteria

    def uninstall(self, fid: str) -> bool:
        with self._lock:
            self._expire()
            return self._filters.pop(fid, None) is not None

    def _live(self, fid: str) -> _Filter:
        self._expire()
        f = self._filters.get(fid)
        if f is None:
            raise FilterNotFound("filter not found")
        return f

    def _expire(self) -> None:
        now = self.clock()
        for fid in [fid for fid, f in self._filters.items() if f.deadline <= now]:
            del self._filters[fid]


_managers: weakref.WeakKeyDictionary[Node, FilterManager] = weakref.WeakKeyDictionary()
_managers_lock = threading.Lock()


def filters_of(node: Node) -> FilterManager:
    """The node's filter manager, made (and hooked to the node) on first use."""
    with _managers_lock:
        manager = _managers.get(node)
        if manager is None:
            manager = _managers[node] = FilterManager(node)
        return manager


def _filter_id(params: list[Any]) -> str:
    fid = p.arg(params, 0, "filterId")
    if not isinstance(fid, str):
        raise InvalidParams(f"filterId: expected a hex string, got {fid!r}")
    return fid.lower()


# ---- JSON-RPC methods ----


@method("eth_newFilter")
def new_filter(ctx: RpcContext, params: list[Any]) -> str:
    criteria = LogCriteria.parse(p.arg(params, 0, "filter"))
    return filters_of(ctx.node).install("logs", criteria)


@method("eth_newBlockFilter")
def new_block_filter(ctx: RpcContext, params: list[Any]) -> str:
    return filters_of(ctx.node).install("blocks")


@method("eth_newPendingTransactionFilter")
def new_pending_transaction_filter(ctx: RpcContext, params: list[Any]) -> str:
    if p.arg(params, 0, "fullTx", required=False, default=False) is not False:
        raise InvalidParams("fullTx: only transaction hashes are supported")
    return filters_of(ctx.node).install("pending")


@method("eth_getFilterChanges")
def get_filter_changes(ctx: RpcContext, params: list[Any]) -> list[Any]:
    return filters_of(ctx.node).changes(_filter_id(params))


@method("eth_getFilterLogs")
def get_filter_logs(ctx: RpcContext, params: list[Any]) -> list[Any]:
    return filters_of(ctx.node).criteria(_filter_id(params)).query(ctx.node)


@method("eth_uninstallFilter")
def uninstall_filter(ctx: RpcContext, params: list[Any]) -> bool:
    return filters_of(ctx.node).uninstall(_filter_id(params))


@method("eth_subscribe", "eth_unsubscribe")
def subscribe_over_http(ctx: RpcContext, params: list[Any]) -> None:
    # Answered on WebSocket connections (api/ws.py); over HTTP geth says this.
    raise MethodNotFound("notifications not supported")
