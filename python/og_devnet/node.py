"""`Node(settings)`: the one way to run a devnet. It owns the chain, the store, the miner
thread and the HTTP server; the CLI, the in-process `Devnet` and the tests all use it.

    with Node(Settings(port=0)) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

import og_devnet
from og_devnet._core import Chain, dev_addresses
from og_devnet.config import WEI_PER_OPG, Settings
from og_devnet.events import EventLog, block_events
from og_devnet.miner import Miner, now_ms
from og_devnet.pool_journal import PoolJournal
from og_devnet.store.archive import ArchivedReads

if TYPE_CHECKING:
    from og_devnet._core import ChainConfig
    from og_devnet.api.front import FrontApp
    from og_devnet.inference.catalog import ModelCatalog
    from og_devnet.inference.nodes import InferenceNode
    from og_devnet.llm import LlmGateway
    from og_devnet.store import ChainStore

log = logging.getLogger("og_devnet.node")

#: The store's format: state directories written in another are refused with a clear message.
STORE_SCHEMA = 4

#: The GIL switch interval while the start finishes in the background (`Node._finish_start`).
START_SWITCH_INTERVAL = 0.0005

#: Tip suggested by eth_maxPriorityFeePerGas and used by eth_sendTransaction.
SUGGESTED_TIP = 1_000_000_000


_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.005


def _short_switch_interval(on: bool) -> None:
    """Shortens the GIL switch interval while any node finishes its start (nodes may start
    side by side in one process); the last one to finish puts the old value back."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if on:
            if _switch_users == 0:
                _switch_saved = sys.getswitchinterval()
                sys.setswitchinterval(min(_switch_saved, START_SWITCH_INTERVAL))
            _switch_users += 1
        else:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


def _websocket_protocol(**kwargs: Any) -> Any:
    """uvicorn's WebSocket protocol (what `ws="auto"` picks: websockets is a dependency),
    imported at the first upgrade or by the background start, instead of by the server's
    start-up before it answers anything (~20 ms)."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    assert AutoWebSocketsProtocol is not None, "no WebSocket library (pip install websockets)"
    return AutoWebSocketsProtocol(**kwargs)


class NodeError(RuntimeError):
    """The node cannot start (port in use, unreadable state, ...)."""


class _StartedLater:
    """An attribute the node sets while it finishes starting in the background (`Node.start`):
    reading it waits until the start is complete, and raises NodeError if the start failed.
    Before `start()` and once started it is a plain attribute."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = f"_later_{name}"

    def __get__(self, node: Node | None, owner: type | None = None) -> Any:
        if node is None:
            return self
        node._wait()
        try:
            return node.__dict__[self.slot]
        except KeyError:
            raise AttributeError(f"{type(node).__name__!r} object has no attribute {self.name!r}") from None

    def __set__(self, node: Node, value: Any) -> None:
        node.__dict__[self.slot] = value


class _StoreOpening:
    """Stands in for the store while the background start opens it (a fresh chain: nothing to
    resume, so the chain answers before SQLAlchemy is even imported). Every use waits until the
    store is open and the genesis committed, so nothing is written to or read from a
    half-opened store, and no block is sealed before its genesis is durable."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def __getattr__(self, name: str) -> Any:
        node = self._node
        if not node._store_opened.is_set() and threading.current_thread() is not node._loader:
            node._store_opened.wait(node.settings.start_timeout)
        store = node.__dict__.get("_later_store")
        if store is None or store is self:
            failure = node._failure
            raise NodeError(f"the store is not open: {failure}" if failure else "the store is still opening") from failure
        return getattr(store, name)


class Node:
    suggested_tip = SUGGESTED_TIP

    # Set by the background part of `start()`; reading one waits for it (see `_StartedLater`).
    store = _StartedLater()
    catalog = _StartedLater()
    zkml = _StartedLater()
    nodes = _StartedLater()
    duties = _StartedLater()
    tee_ca = _StartedLater()
    gateways = _StartedLater()

    def __init__(self, settings: Settings | None = None, *, on_model_loading: Any = None, answer_early: bool = True,
                 before_serving: Any = None, **overrides: Any) -> None:  # fmt: skip
        if settings is None:
            settings = Settings(**overrides)
        elif overrides:
            settings = Settings.model_validate({**settings.model_dump(), **overrides})
        self.settings = settings
        self.chain: Chain
        self.store: ChainStore
        #: Every read of blocks, transactions, receipts, logs or fee history goes through this:
        #: `node.read(node.chain.block_json, tag, full)` loads archived bodies it needs.
        self.read: ArchivedReads
        self.state_dir: Path
        self.port: int = 0
        self.resumed = False
        self._temp_state = False
        self.miner: Miner
        self.journal: PoolJournal
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self._front: FrontApp | None = None
        self._started = False
        #: The background part of the start: its thread, what it is doing, how it ended.
        self._loader: threading.Thread | None = None
        self._ready = threading.Event()
        self._store_opened = threading.Event()
        self._failure: BaseException | None = None
        self._failure_seen = False
        #: What the background start is doing now (shown when a request waits too long).
        self.starting = "not started"
        self.catalog: ModelCatalog
        self.nodes: list[InferenceNode] = []
        #: HTTPS LLM gateways og.LLM finds in the TEE registry (og_devnet.llm).
        self.gateways: list[LlmGateway] = []
        #: Live events for the explorer (/api/events).
        self.events = EventLog()
        #: Called with each transaction hash the pool accepts (newPendingTransactions, filters).
        self.tx_listeners: list[Any] = []
        #: Called with each committed block's record, after it is published (newHeads, logs).
        self.block_listeners: list[Any] = []
        #: Called with (index, total, file name) before each model loads (the CLI's progress
        #: bar), from the thread that finishes the start.
        self._on_model_loading = on_model_loading
        #: Answer the chain-only JSON-RPC calls (og_devnet.api.front) before the start is
        #: complete; False holds every request until it is.
        self.answer_early = answer_early
        #: Called with the node once everything is started, before any request but the early
        #: ones is served (the CLI's --config-out), from the thread that finishes the start.
        self._before_serving = before_serving

    # ---- lifecycle ----
    def start(self) -> Node:
        """Starts the node and returns as soon as JSON-RPC answers: the chain exists and the
        HTTP server listens. The rest (the store, when the chain is new; the models, inference
        nodes, LLM gateways, the full HTTP app, the miner) finishes in a background thread;
        whatever needs it waits for it (`wait_ready`), and HTTP requests other than a few
        chain-only calls (`og_devnet.api.front`) are held until it is done."""
        if self._started:
            return self
        s = self.settings
        from og_devnet.api.front import FrontApp
        from og_devnet.api.security import AccessPolicy

        # Built first: a bad --allowed-host or --allow-origin stops the start with its reason.
        policy = AccessPolicy.build(s.host, s.allowed_hosts, s.allow_origins)
        sock = self._bind(s.host, s.port)
        self._ready.clear()
        self._store_opened.clear()
        self._failure, self._failure_seen = None, False
        try:
            meta = self._open_state()
            self._open_chain(meta)
            self._open_price_feeds()
            self.miner = Miner(self.chain, self.store, self._after_block)
            self.journal = PoolJournal(self.chain, self.store, self.read, self.tx_listeners)
            self._front = FrontApp(self, policy)
            self._started = True
            # The HTTP server first, alone: the background start's imports would share the GIL
            # with its start-up (the socket already queues connections meanwhile).
            self._serve(sock)
            self._loader = threading.Thread(target=self._finish_start, name="og-devnet-start", daemon=True)
            self._loader.start()
        except BaseException:
            self._started = False
            self._abort_start(sock)
            raise
        return self

    def _finish_start(self) -> None:
        """The background part of `start()`, in the order the synchronous start had.

        It is mostly imports and model loading, which hold the GIL; meanwhile the HTTP thread
        answers the first requests. With Python's default 5 ms switch interval each of the
        many GIL hand-overs in a request waits up to 5 ms behind this thread, so the interval
        is shortened while it runs (and put back after)."""
        _short_switch_interval(True)
        try:
            if not self._store_opened.is_set():
                self.starting = "opening the store"
                self._open_store_later()
            self.starting = "loading models"
            self._open_models()
            self.starting = "starting the inference nodes"
            self._start_nodes()
            self.starting = "starting the LLM gateways"
            self._start_gateways()
            self.starting = "replaying the transaction journal"
            if self.journal.replay() and self.chain.mining_mode()[0] == "auto":
                self.miner.mine(1)
            self.starting = "building the HTTP app"
            from og_devnet.api import create_app

            app = create_app(self)
            # The WebSocket protocol the server imports at the first upgrade (`_websocket_protocol`).
            import uvicorn.protocols.websockets.auto  # noqa: F401

            if self._before_serving is not None:
                self._before_serving(self)
            assert self._front is not None
            self._front.app = app
            self.miner.start()
            self.starting = "started"
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits (wait_ready, stop)
            self._failure = e
            self.starting = f"failed: {e}"
            if not self._store_opened.is_set():
                self._store_opened.set()
        finally:
            _short_switch_interval(False)
            self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> Node:
        """Waits until the start is complete (`start()` returns before it). Raises NodeError
        if it failed, or if it is not complete within `timeout` (default: the settings'
        start_timeout)."""
        if not self._ready.is_set():
            wait = self.settings.start_timeout if timeout is None else timeout
            if not self._ready.wait(wait):
                raise NodeError(f"the node is still starting after {wait:g} s ({self.starting})")
        if self._failure is not None:
            self._failure_seen = True
            failure = self._failure
            raise (failure if isinstance(failure, NodeError) else NodeError(str(failure))) from failure
        return self

    def finished_starting(self, timeout: float | None = None) -> bool:
        """Waits up to `timeout` seconds for the background start to end, well or not;
        True if it has (`wait_ready` then returns at once, or raises its failure)."""
        return self._ready.wait(timeout)

    def start_failure(self) -> str | None:
        """Why the background start failed, or None (it succeeded or is still going)."""
        return None if self._failure is None else f"the node failed to start: {self._failure}"

    def _wait(self) -> None:
        """Called by what needs the whole node: waits for the background start, unless it
        is done, was never begun, or is the caller."""
        if self._ready.is_set():
            if self._failure is not None:
                self.wait_ready()
            return
        if self._loader is None or threading.current_thread() is self._loader:
            return
        self.wait_ready()

    def _abort_start(self, sock: socket.socket | None = None) -> None:
        """Undoes a start that failed (in `start()`, or in the background: then from stop)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._server_thread is not None:
            self._server_thread.join(timeout=10)
        if self._loader is not None and threading.current_thread() is not self._loader:
            self._loader.join()
        self._stop_gateways()
        self._stop_nodes()
        if sock is not None:
            sock.close()
        store = self.__dict__.get("_later_store")
        if store is not None and not isinstance(store, _StoreOpening):
            store.engine.dispose()
        if hasattr(self, "state_dir"):
            self._cleanup_state()

    def stop(self, raise_failure: bool = True) -> None:
        """Stops everything. If the background start failed and nobody has been told yet,
        raises its NodeError once all is stopped (unless `raise_failure` is False)."""
        if not self._started:
            return
        self._started = False
        if self._loader is not None:
            self._loader.join()  # a start still going finishes (or fails) first
        if self._failure is not None:
            self._abort_start()
            self._loader = None
            if raise_failure and not self._failure_seen:
                self._failure_seen = True
                failure = self._failure
                raise (failure if isinstance(failure, NodeError) else NodeError(str(failure))) from failure
            return
        if self._server is not None:
            self._server.should_exit = True
        if self._server_thread is not None:
            self._server_thread.join(timeout=10)
        self._stop_gateways()
        self.miner.stop()
        self._stop_nodes()
        self.store.engine.dispose()
        self._cleanup_state()
        self._loader = None

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        # An exception already on its way out is not replaced by the start's own failure.
        self.stop(raise_failure=exc[0] is None)

    @staticmethod
    def _bind(host: str, port: int) -> socket.socket:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only for
        # sockets whose proto says TCP. Without it Nagle's algorithm meets the client's delayed
        # ACK and every call on a kept-alive connection waits ~40 ms.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            sock.close()
            raise NodeError(f"cannot listen on {host}:{port}: {e.strerror} (is another node running? try --port)") from e
        sock.listen(2048)
        sock.setblocking(False)
        return sock

    def _open_state(self) -> dict[str, Any] | None:
        """The state directory, and the store's meta when there may be a chain to resume.
        A new chain's store (a fresh temporary directory, or a --state directory without a
        database) is opened by the background start instead (`_open_store_later`): None."""
        s = self.settings
        if s.state is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="og-devnet-"))
            self._temp_state = True
        else:
            self.state_dir = s.state.expanduser().resolve()
            try:
                self.state_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise NodeError(f"cannot create state directory {self.state_dir}: {e.strerror}") from e
        if s.db is None and not (self.state_dir / "chain.db").exists():
            self.store = _StoreOpening(self)
            return None
        self.store = self._open_store()
        self._store_opened.set()
        return self.store.meta()

    def _store_url(self) -> str:
        return self.settings.db or f"sqlite:///{self.state_dir / 'chain.db'}"

    def _open_store(self) -> ChainStore:
        from og_devnet.store import ChainStore, make_engine

        url = self._store_url()
        try:
            return ChainStore(make_engine(url))
        except Exception as e:
            raise NodeError(f"cannot open the database {url}: {e}") from e

    def _open_store_later(self) -> None:
        """A new chain's store: opened, and the genesis committed, before anything else uses
        it (they wait on `_StoreOpening`); the miner starts only after the whole start."""
        store = self._open_store()
        try:
            if store.meta():  # someone else's chain appeared in the directory meanwhile
                raise NodeError(f"{self.state_dir} got a database while this node started; start again")
            self._initialise_store(store)
        except BaseException:
            store.engine.dispose()
            raise
        self.store = self.miner.store = self.journal.store = self.read.store = store
        self._store_opened.set()

    def _cleanup_state(self) -> None:
        if self._temp_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _open_price_feeds(self) -> None:
        """Serves the --price-feed files at OGHistorical. Each is copied into the state
        directory, so a resumed chain serves the same candles without the flag (a replayed
        block must see the data it saw); a flag given again replaces the copy."""
        from og_devnet._core import InvalidArgument

        kept = self.state_dir / "price_feeds"
        feeds = {p.stem.replace("_", "/"): p for p in sorted(kept.glob("*.csv"))} if self.resumed else {}
        feeds.update(self.settings.price_feeds)
        for pair, path in feeds.items():
            try:
                text = path.read_text()
                self.chain.set_price_feed(pair, text)
            except (InvalidArgument, OSError, UnicodeDecodeError) as e:
                raise NodeError(f"price feed {pair} ({path}): {e}") from None
            copy = kept / f"{pair.replace('/', '_')}.csv"
            if path != copy:
                kept.mkdir(exist_ok=True)
                tmp = copy.with_suffix(".tmp")
                tmp.write_text(text)
                tmp.replace(copy)

    def _open_chain(self, meta: dict[str, Any] | None) -> None:
        from og_devnet._core import InvalidArgument

        s = self.settings
        config: ChainConfig = {
            "chain_id": s.chain_id, "mnemonic": s.mnemonic, "accounts": s.accounts, "balance": s.balance * WEI_PER_OPG,
            "base_fee": s.base_fee, "gas_limit": s.gas_limit, "base_fee_change": s.base_fee_change,
            "mining": s.mining.value, "block_time_ms": s.block_time_ms, "nodes": s.nodes,
            "pipe": {
                "redundancy": s.redundancy, "hedge_quantile": s.hedge_quantile, "hedge_budget": s.hedge_budget,
                "hedge_multiple": s.hedge_multiple, "route_by_latency": s.pipe_routing == "latency",
                "hedge_floor_ms": 20, "hedge_initial_ms": 1000, "timeout_floor_ms": s.attempt_timeout_ms,
                "cooldown_ms": 5000,
            },
            "challenge_window": s.challenge_window, "body_window": s.body_window, "hardfork": s.hardfork,
            "llm_batch_blocks": s.llm_batch_blocks,
        }  # fmt: skip
        if meta and meta.get("schema") != STORE_SCHEMA:
            raise NodeError(
                f"{self.state_dir} holds a chain written by og-devnet {meta.get('version', '?')} in an older format "
                f"(schema {meta.get('schema', 1)}, this version reads {STORE_SCHEMA}); start with a new --state directory"
            )
        if meta:
            # Resume: genesis parameters come from the store, not from the command line. Stores
            # from before base-fee changes existed kept the fee fixed.
            base_fee_change = meta.get("base_fee_change", False)
            config.update({
                "chain_id": meta["chain_id"], "mnemonic": meta["mnemonic"], "accounts": meta["accounts"],
                "balance": int(meta["balance"]), "base_fee": meta["base_fee"], "gas_limit": meta["gas_limit"],
                "base_fee_change": base_fee_change, "economics_json": json.dumps(meta["economics"]),
                "contracts_json": json.dumps(meta.get("genesis_contracts", {})),
            })  # fmt: skip
            self.chain = Chain.restore(config, blocks=self.store.stored_blocks(), state=self.store.accounts(),
                                       deliveries_json=json.dumps(meta.get("unsettled", [])))  # fmt: skip
            self.resumed = True
            self.read = ArchivedReads(self.chain, self.store)
            if meta["chain_id"] != s.chain_id:
                log.warning("resuming chain %s from %s; --chain-id %s ignored", meta["chain_id"], self.state_dir, s.chain_id)
            if base_fee_change != s.base_fee_change:
                log.warning("resuming chain %s from %s with the base fee %s, as it was made; the setting given now is ignored",
                            meta["chain_id"], self.state_dir, "following EIP-1559" if base_fee_change else "fixed")  # fmt: skip
            return
        from og_devnet.base.genesis import DEV_OPG, FACILITATOR_GAS_FUNDS, facilitator_address, with_base_contracts

        try:
            # The Base contracts of x402 payments (OPG, Permit2, proxies), 1,000 OPG per dev
            # account; a --genesis file's own alloc entries win.
            dev = dev_addresses(s.mnemonic, s.accounts)
            # The LLM gateways' x402 facilitators get gas to send their settlements.
            facilitators = {facilitator_address(s.mnemonic, i): FACILITATOR_GAS_FUNDS for i in range(s.llm_gateway_count)}
            genesis = with_base_contracts(s.genesis.read_text() if s.genesis else None, dict.fromkeys(dev, DEV_OPG), facilitators)
            config.update({"timestamp_ms": now_ms(), "genesis_json": genesis})
            self.chain = Chain(config)
        except InvalidArgument as e:
            raise NodeError(f"{s.genesis}: {e}" if s.genesis else str(e)) from None
        self.read = ArchivedReads(self.chain, self.store)
        genesis_block = self.chain.genesis_block()
        meta = {
            "chain_id": self.chain.chain_id, "mnemonic": s.mnemonic, "accounts": s.accounts,
            "balance": str(s.balance * WEI_PER_OPG), "base_fee": int(json.loads(genesis_block.record)["block"]["baseFeePerGas"], 16),
            "base_fee_change": s.base_fee_change, "gas_limit": self.chain.gas_limit,
            "economics": json.loads(self.chain.economics_json()), "schema": STORE_SCHEMA,
            # Code and storage from the genesis file: no block carries them.
            "genesis_contracts": json.loads(self.chain.genesis_contracts_json()),
        }  # fmt: skip
        self._genesis_rows = (meta, genesis_block, self.chain.accounts())
        if self._store_opened.is_set():
            self._initialise_store(self.store)

    def _initialise_store(self, store: ChainStore) -> None:
        """Writes a new chain's genesis to its store, with the version that made it (read
        here: finding the package's metadata takes ~6 ms, off the path to the first answer)."""
        meta, genesis_block, accounts = self._genesis_rows
        store.initialise({**meta, "version": og_devnet.__version__}, genesis_block, accounts)

    def _open_models(self) -> None:
        from og_devnet.inference.catalog import (
            DEMO_LLM,
            ZKML_FIXTURES,
            ModelCatalog,
            demo_llm_file,
        )
        from og_devnet.inference.devices import Devices
        from og_devnet.inference.prover import ZkmlService

        self.zkml = ZkmlService(self.state_dir, self.settings.zkml_cache, self.settings.provers)
        self.devices = Devices.resolve(self.settings.device)
        self.catalog = ModelCatalog(self.state_dir / "models", self.store, self.chain, self.zkml, self.devices)
        stored = self.store.models()
        fixtures = ModelCatalog.fixture_files() if self.settings.fixtures else []
        total = len(stored) + len(fixtures)
        for done, row in enumerate(stored):
            self._report_loading(done, total, row["name"])
            self.catalog.load_one(row)
        for done, (path, name) in enumerate(fixtures, start=len(stored)):
            self._report_loading(done, total, name)
            self.catalog.add_file(path, name, zkml=self.settings.zkml and path.name in ZKML_FIXTURES)
        if self.settings.demo_llm:
            self._report_loading(total, total + 1, DEMO_LLM)
            self.catalog.add_file(demo_llm_file(), DEMO_LLM)

    def _report_loading(self, index: int, total: int, name: str) -> None:
        if self._on_model_loading is not None:
            self._on_model_loading(index, total, name)

    def _start_nodes(self) -> None:
        from og_devnet.inference.nodes import Fault, InferenceNode
        from og_devnet.inference.settlement import SettlementDuties
        from og_devnet.inference.tee import DevnetCA, Enclave, measurements

        pipe = self.chain.pipe()
        s = self.settings
        # The devnet CA lives in the state directory: enclaves of a restarted node chain to
        # the same root.
        self.tee_ca = DevnetCA.load_or_create(self.state_dir / "tee")
        pcr0, pcr1, _ = measurements(b"")
        pipe.set_tee(self.tee_ca.root_der, pcr0, pcr1)
        self.nodes = [
            InferenceNode(i, address, pipe, self.catalog, Fault.parse(s.node_faults.get(i, "ok")),
                          delay_ms=s.node_delay_ms, jitter_ms=s.node_jitter_ms,
                          enclave=Enclave(self.tee_ca, f"og-devnet-node-{i}"),
                          batch_window_ms=s.batch_window_ms if s.redundancy == 1 else 0.0)  # fmt: skip
            for i, address in enumerate(pipe.node_addresses())
        ]
        for node in self.nodes:
            self._register_enclave(node)
            node.start()
        pipe.start_scheduler()
        self.duties = SettlementDuties(self.chain, self.catalog, self.nodes, self.zkml, s.watch_rate, self.events)
        if self.resumed:
            # Results delivered before the restart: prove, watch and referee what is still due.
            self.duties.resume(json.loads(self.chain.saved_deliveries_json()))

    def _register_enclave(self, node: InferenceNode) -> None:
        import json

        from cryptography.hazmat.primitives.serialization import Encoding

        from og_devnet._core import keccak256
        from og_devnet.inference.tee import measurements
        from og_devnet.llm.gateway import TEE_TYPE_VALIDATOR

        assert node.enclave is not None
        pcr0, pcr1, _ = measurements(b"")
        # Type 1 (Validator), not 0: og.LLM picks at random among type-0 TEEs with an endpoint,
        # and these enclaves answer through the hub contract, not over HTTPS.
        self.chain.register_enclave(json.dumps({
            "owner": node.address, "endpoint": f"og-devnet://node-{node.index} (in-process; no HTTPS endpoint)",
            "public_key": "0x" + node.enclave.public_key_der.hex(),
            "certificate": "0x" + node.enclave.certificate.public_bytes(Encoding.DER).hex(),
            "pcr_hash": "0x" + keccak256(pcr0 + pcr1).hex(), "tee_type": TEE_TYPE_VALIDATOR, "registered_at_ms": now_ms(),
        }))  # fmt: skip

    def _start_gateways(self) -> None:
        """The LLM gateways, after the chain and the models: gateway i is run by inference
        node i's operator (its owner and payment address in the registry). Their keys and
        certificates are kept in the state directory, so a resumed chain lists the same TEEs."""
        from og_devnet.base.genesis import FACILITATOR_GAS_FUNDS, facilitator_key
        from og_devnet.llm import LlmGateway
        from og_devnet.llm.payment import Payments

        known = {n for m in self.catalog.list() if self.catalog.language_model(m["id"]) for n in (m["id"], m["name"])}
        if missing := {f"{k}={v}" for k, v in self.settings.llm_models.items() if v not in known}:
            raise NodeError(f"--llm-model {', '.join(sorted(missing))}: no such language model is loaded "
                            f"(loaded: {', '.join(sorted(known)) or 'none'})")  # fmt: skip
        for i in range(self.settings.llm_gateway_count):
            node = self.nodes[i % len(self.nodes)]
            # The gateway reads its node's fault at each request: set_node_fault applies at once.
            gateway = LlmGateway.open(i, self.state_dir / "llm" / f"gateway-{i}", self.catalog, node.address,
                                      fault=lambda node=node: node.fault, node_index=node.index)  # fmt: skip
            gateway.model_choices = dict(self.settings.llm_models)
            gateway.submit_record = self.chain.submit_llm_inference
            if not self.settings.llm_free:
                gateway.payments = Payments(self, facilitator_key(self.settings.mnemonic, i), node.address)
                if int(self.chain.balance(gateway.payments.facilitator, "latest")) == 0:
                    # A resumed chain started with more gateways than its genesis funded.
                    self.chain.set_balance(gateway.payments.facilitator, FACILITATOR_GAS_FUNDS)
            gateway.start()
            self.gateways.append(gateway)
            self.chain.register_enclave(json.dumps(gateway.registry_record(now_ms())))

    def _stop_gateways(self) -> None:
        gateways = self.__dict__.get("_later_gateways", [])  # as far as the start got
        for gateway in gateways:  # all at once: each takes a tick of its event loop
            gateway.request_stop()
        for gateway in gateways:
            gateway.stop()
        self.gateways = []

    def _stop_nodes(self) -> None:
        started = self.__dict__  # as far as the start got: never wait on it here
        if "_later_duties" in started:
            started["_later_duties"].close()
        if "_later_zkml" in started:
            started["_later_zkml"].close()
        for node in started.get("_later_nodes", []):
            node.stop()
        for node in started.get("_later_nodes", []):
            node.join(timeout=10)
        if hasattr(self, "chain"):
            self.chain.pipe().stop_scheduler()

    def set_node_fault(self, index: int, fault: str) -> dict[str, Any]:
        from og_devnet.inference.nodes import Fault

        if not 0 <= index < len(self.nodes):
            raise ValueError(f"no node {index}: nodes are 0..{len(self.nodes) - 1}")
        self.nodes[index].set_fault(Fault.parse(fault))
        self.events.publish("node_fault", {"index": index, "fault": str(self.nodes[index].fault)})
        return self.node_info()[index]

    def node_info(self) -> list[dict[str, Any]]:
        self._wait()
        import orjson

        stats = orjson.loads(self.chain.pipe().stats_json())["nodes"]
        devices = self.devices.describe()  # the runtimes are shared: every node runs on them
        return [
            {**st, "fault": str(n.fault), "stake_address": (stake := Chain.stake_address(n.address)),
             "stake": str(self.chain.balance(stake, "latest")), "marked": st["penalties"] > 0,
             "batch_window_ms": n.batch_window_ms, "batches": n.batches, "batched_jobs": n.batched_jobs,
             "devices": devices}
            for n, st in zip(self.nodes, stats, strict=True)
        ]  # fmt: skip

    def inference(self, tx_hash: str) -> dict[str, Any] | None:
        import orjson

        live = self.chain.pipe().job_json(tx_hash)
        # An LLM gateway answer whose batch has not settled (by record id or batch tx hash).
        llm_live = None if live is not None else self.chain.llm_inference_json(tx_hash)
        if llm_live is not None:
            record = orjson.loads(llm_live)
        elif live is None:
            record = self.store.inference(tx_hash)
        else:
            record = orjson.loads(live)
            if record.get("many"):
                from og_devnet.store.chain_store import aggregate

                record.update(aggregate(tx_hash.lower(), record["calls"]))
        if record is not None:
            for call in record.get("calls") or [record]:
                self._proof_context(call)
        return record

    def _proof_context(self, record: dict[str, Any]) -> None:
        """What a reader needs to judge the proof: the verifying key's id (ZKML), the bond
        and its window (OPTIMISTIC)."""
        if record.get("mode") == 1 and (model := self.catalog.get(record.get("model_id", ""))):
            record["vk_id"] = model.get("zkml_vk_id")
        elif record.get("mode") == 3:
            record["bond"] = str(int(json.loads(self.chain.economics_json())["bond"], 16))

    def _serve(self, sock: socket.socket) -> None:
        # The front app answers at once; it hands requests to the full app (og_devnet.api),
        # which the background start builds (`_finish_start`).
        assert self._front is not None
        create_app = lambda _node: self._front  # noqa: E731

        config = uvicorn.Config(
            create_app(self), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2,
            ws=_websocket_protocol,
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="og-devnet-http", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise NodeError("the HTTP server did not start")
            time.sleep(0.005)
        self.port = sock.getsockname()[1]

    # ---- addresses ----
    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def rpc_url(self) -> str:
        return self.url + "/"

    @property
    def explorer_url(self) -> str:
        return self.url + "/"

    # ---- mining ----
    def mine(self, count: int = 1) -> list[int]:
        """Seals `count` blocks now, each committed to the store before it is published."""
        self._wait()
        return self.miner.mine(count)

    def _after_block(self, record: dict[str, Any]) -> None:
        """A block is committed and published: settlement duties, events, listeners."""
        number = int(record["block"]["number"], 16)
        if record.get("deliveries") or record.get("settlements"):
            self.duties.after_commit(record)
        try:
            block_events(self.events, record)
        except Exception:  # the block is mined; a malformed event must not say otherwise
            log.exception("publishing the events of block %d failed", number)
        for listener in list(self.block_listeners):
            try:
                listener(record)
            except Exception:
                log.exception("a block listener failed on block %d", number)

    def tx_pooled(self, tx_hash: str, raw: bytes | None = None) -> None:
        """The pool accepted `tx_hash` (from eth_sendRawTransaction / eth_sendTransaction).
        It is journaled by `after_submit`, before the request that brought it is answered."""
        self._wait()
        self.journal.pooled(tx_hash, raw)

    def after_submit(self) -> None:
        """Called once per RPC request (or batch) that pooled transactions, before it is
        answered: automine seals a block, and what is still pooled goes to the journal, so
        every hash a client was given survives `kill -9`."""
        self._wait()
        try:
            if self.chain.mining_mode()[0] == "auto":
                self.mine(1)
        finally:
            self.journal.flush()

    def set_mining_mode(self, mode: str, block_time: float | None = None) -> None:
        self._wait()
        block_time_ms = round((block_time or self.settings.block_time) * 1000) if mode == "interval" else 0
        self.chain.set_mining_mode(mode, block_time_ms)
        self.miner.wake()

    # ---- development controls ----
    def snapshot(self) -> int:
        self._wait()
        with self.miner.paused():
            return self.chain.snapshot()

    def revert(self, snapshot_id: int) -> bool:
        self._wait()
        with self.miner.paused():
            target = self.chain.snapshot_state(snapshot_id)
            if target is None:
                return False
            # The store first: if it fails, neither side has changed.
            self.store.revert_to(*target)
            reverted = self.chain.revert(snapshot_id)
            self.store.save_unsettled(self.chain.saved_deliveries_json())
            self.events.publish("reset", {"reason": "evm_revert", "head": self.chain.head()})
            # Proofs and challenges made after the snapshot were undone with it: redo them.
            self.duties.resume(json.loads(self.chain.saved_deliveries_json()))
            return reverted

    def set_balance(self, address: str, balance: int) -> None:
        self._wait()
        with self.miner.paused():
            bal, nonce = self.chain.set_balance(address, balance)
            self.store.save_account(address, bal, nonce)

    def set_nonce(self, address: str, nonce: int) -> None:
        self._wait()
        with self.miner.paused():
            bal, n = self.chain.set_nonce(address, nonce)
            self.store.save_account(address, bal, n)

    def info(self) -> dict[str, Any]:
        self._wait()
        mode, block_time_ms = self.chain.mining_mode()
        ready, queued = self.chain.pool_counts()
        return {
            "version": og_devnet.__version__,
            "chain_id": self.chain.chain_id,
            "block_number": self.chain.head(),
            "mining": {"mode": mode, "block_time": block_time_ms / 1000 if block_time_ms else None},
            "base_fee": self.chain.base_fee,
            "gas_limit": self.chain.gas_limit,
            "hardfork": self.settings.hardfork,
            "mempool": {"ready": ready, "queued": queued},
            "rpc_url": self.rpc_url,
            "state_dir": None if self._temp_state else str(self.state_dir),
            "contracts": dict(Chain.native_contracts()),
            "nodes": len(self.nodes),
            "llm_gateways": [g.info() for g in self.gateways],
            "models": [{"id": m["id"], "name": m["name"], "kind": m["kind"]} for m in self.catalog.list()],
        }
