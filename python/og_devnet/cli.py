"""`og-devnet`: parses options and runs a Node. Nothing else lives here.

Client commands (`infer`, `status`, `nodes`, `models list`, `mine`, ...) import what a client
needs, an HTTP call and the output; the node, the store, the settings and the model runtimes
are imported by `up` only (tests/test_startup.py checks it)."""

from __future__ import annotations

import gc
import json
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from og_devnet._core import Mode
from og_devnet.defaults import DEFAULT_CHAIN_ID, DEFAULT_MNEMONIC, MiningMode

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    name="og-devnet",
    help="A local devnet for verifiable AI inference in the style of OpenGradient.",
    no_args_is_help=True,
    add_completion=False,
)


class _LazyConsole:
    """A rich Console made when it is first used: `up` answers JSON-RPC before rich.console
    is imported (~20 ms), and a client command imports it only to print its answer."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def rich(self) -> Console:
        """The Console itself (for what takes one, e.g. a Progress)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich, name)


console = _LazyConsole(soft_wrap=True)
err = _LazyConsole(stderr=True, soft_wrap=True)

RpcUrl = Annotated[str, typer.Option("--rpc-url", envvar="OG_DEVNET_RPC_URL", help="JSON-RPC URL of a running node.")]


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for JSON-RPC, REST and the explorer (0: any free port).")] = 8545,
    block_time: Annotated[float, typer.Option("--block-time", help="Seconds between blocks (interval mining).")] = 0.5,
    automine: Annotated[bool, typer.Option("--automine", help="Seal a block for each request that brings transactions.")] = False,
    no_mining: Annotated[bool, typer.Option("--no-mining", help="Seal blocks only on request (evm_mine, og-devnet mine).")] = False,
    chain_id: Annotated[int, typer.Option("--chain-id", help="Chain id.")] = DEFAULT_CHAIN_ID,
    accounts: Annotated[int, typer.Option(help="Number of dev accounts.")] = 10,
    balance: Annotated[int, typer.Option(help="Balance of each dev account, in OPG.")] = 10_000,
    mnemonic: Annotated[str, typer.Option(help="BIP-39 mnemonic of the dev accounts.")] = DEFAULT_MNEMONIC,
    genesis: Annotated[Path | None, typer.Option(help="A geth-style genesis JSON file.")] = None,
    state: Annotated[Path | None, typer.Option(help="Keep state in DIR and resume from it on restart.")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL, e.g. postgresql://user@localhost/ogdevnet.")] = None,
    config_out: Annotated[Path | None, typer.Option("--config-out", help="Write chain id, accounts, keys and URLs as JSON to FILE.")] = None,
    nodes: Annotated[int, typer.Option(help="Simulated inference nodes.")] = 4,
    redundancy: Annotated[int, typer.Option(help="First copies of each inference job (2+: results must agree).")] = 1,
    hedge_quantile: Annotated[float, typer.Option(help="Hedge at --hedge-multiple x this quantile of recent latencies (0.5: the median).")] = 0.5,
    hedge_multiple: Annotated[float, typer.Option(help="Hedge an attempt running this many times the --hedge-quantile latency.")] = 2.0,
    hedge_budget: Annotated[float, typer.Option(help="Speculative duplicates, as a share of jobs.")] = 0.10,
    node_fault: Annotated[list[str] | None, typer.Option("--node-fault", help="INDEX=FAULT, e.g. 2=slow:20 (ok, slow:F, down, flaky:P, byzantine); repeatable.")] = None,
    node_delay_ms: Annotated[float, typer.Option(help="Network/queue delay each node adds (ms).")] = 0.0,
    device: Annotated[str, typer.Option(help="Where models run: auto (a CUDA GPU if there is one), cpu, cuda or cuda:N.")] = "auto",
    batch_window_ms: Annotated[float, typer.Option(help="Dynamic batching: how long a node waits for more jobs of the same model and mode (VANILLA/TEE) to run them as one batch (ms); 0: off.")] = 1.0,
    node_jitter_ms: Annotated[float, typer.Option(help="Random extra delay per answer, up to (ms).")] = 0.0,
    no_fixtures: Annotated[bool, typer.Option("--no-fixtures", help="Do not register the fixture models.")] = False,
    zkml: Annotated[bool, typer.Option("--zkml/--no-zkml", help="Set up a ZKML circuit for the fixture ONNX model (background, cached).")] = True,
    challenge_window: Annotated[int, typer.Option("--challenge-window", help="OPTIMISTIC: blocks a result stays challengeable.")] = 20,
    llm_batch_blocks: Annotated[int, typer.Option("--llm-batch-blocks", help="LLM answers: blocks a settlement batch waits for more answers before it is posted.")] = 3,
    watch_rate: Annotated[float, typer.Option("--watch-rate", help="OPTIMISTIC: share of results the watcher re-executes.")] = 1.0,
    base_fee: Annotated[int, typer.Option("--base-fee", help="Base fee of the first block, in wei.")] = 1_000_000_000,
    no_base_fee_change: Annotated[bool, typer.Option("--no-base-fee-change", help="Keep the base fee fixed instead of following EIP-1559.")] = False,
    allowed_host: Annotated[list[str] | None, typer.Option("--allowed-host", help="Also serve requests whose Host is NAME (loopback names are always served); repeatable.")] = None,
    allow_origin: Annotated[list[str] | None, typer.Option("--allow-origin", help="Let web pages from URL call the node (CORS), e.g. http://localhost:3000; * allows every page; repeatable.")] = None,
    models_dir: Annotated[list[Path] | None, typer.Option("--models-dir", help="Let JSON-RPC/REST register model files by path from DIR; repeatable (none by default).")] = None,
    hardfork: Annotated[str, typer.Option("--hardfork", help="The EVM's hard fork: london, shanghai, cancun, prague or osaka.")] = "prague",
    call_timeout: Annotated[float, typer.Option("--call-timeout", help="Seconds an eth_call of a contract that calls inference waits for PIPE.")] = 30.0,
    price_feed: Annotated[list[str] | None, typer.Option("--price-feed", help="BASE/QUOTE=FILE.csv: serve this pair's candles at OGHistorical (0x..F5) from 1-minute CSV rows timestamp,open,high,low,close,volume; repeatable.")] = None,
    llm_gateways: Annotated[int | None, typer.Option("--llm-gateways", help="HTTPS LLM gateways for og.LLM, on 127.0.0.1 (default: one per inference node; 0: none).")] = None,
    llm_model: Annotated[list[str] | None, typer.Option("--llm-model", help="NAME=MODEL: answer og.TEE_LLM name NAME (e.g. gpt-5; * for all) with the local GGUF model MODEL (name or id); repeatable.")] = None,
    llm_free: Annotated[bool, typer.Option("--llm-free", help="LLM gateways answer without x402 payment (default: paid in the devnet's OPG token).")] = False,
    demo_llm: Annotated[bool, typer.Option("--demo-llm", help="Serve og.TEE_LLM names with Gemma 3 270M (needs: pip install 'og-devnet[demo-llm]').")] = False,
) -> None:
    """Start the devnet and serve it until Ctrl-C."""
    import logging

    from pydantic import ValidationError

    from og_devnet.api.security import exposure_log, exposure_warnings
    from og_devnet.config import Settings
    from og_devnet.node import Node, NodeError

    # The node logs its exposure warnings for library users; here they are printed, styled,
    # after the banner where they are seen.
    exposure_log.addHandler(logging.NullHandler())
    exposure_log.propagate = False

    if automine and no_mining:
        fail("--automine and --no-mining exclude each other", 2)
    mining = MiningMode.auto if automine else MiningMode.manual if no_mining else MiningMode.interval
    faults: dict[int, str] = {}
    for spec in node_fault or []:
        index, sep, fault = spec.partition("=")
        if not sep or not index.strip().isdigit():
            fail(f"--node-fault {spec!r}: expected INDEX=FAULT, e.g. 2=slow:20", 2)
        faults[int(index)] = fault
    feeds: dict[str, Path] = {}
    for spec in price_feed or []:
        pair, sep, file = spec.partition("=")
        if not sep or not pair.strip() or not file.strip():
            fail(f"--price-feed {spec!r}: expected BASE/QUOTE=FILE.csv, e.g. ETH/USD=eth.csv", 2)
        feeds[pair.strip().upper()] = Path(file.strip())
    llm_models: dict[str, str] = {}
    for spec in llm_model or []:
        name, sep, model = spec.partition("=")
        if not sep or not name.strip() or not model.strip():
            fail(f"--llm-model {spec!r}: expected NAME=MODEL, e.g. gpt-5=tiny-llama", 2)
        llm_models[name.strip()] = model.strip()
    try:
        settings = Settings(
            host=host, port=port, mining=mining, block_time=block_time, chain_id=chain_id, accounts=accounts,
            balance=balance, mnemonic=mnemonic, genesis=genesis, state=state, db=db, nodes=nodes,
            redundancy=redundancy, hedge_quantile=hedge_quantile, hedge_budget=hedge_budget, node_faults=faults,
            hedge_multiple=hedge_multiple,
            node_delay_ms=node_delay_ms, node_jitter_ms=node_jitter_ms, batch_window_ms=batch_window_ms, device=device, fixtures=not no_fixtures, zkml=zkml,
            challenge_window=challenge_window, llm_batch_blocks=llm_batch_blocks, watch_rate=watch_rate, base_fee=base_fee,
            base_fee_change=not no_base_fee_change, allowed_hosts=allowed_host or [], allow_origins=allow_origin or [],
            models_dirs=models_dir or [], hardfork=hardfork, call_timeout=call_timeout, price_feeds=feeds,
            llm_gateways=llm_gateways, llm_models=llm_models, llm_free=llm_free, demo_llm=demo_llm,
        )  # fmt: skip
    except ValidationError as e:
        fail("; ".join(f"--{'-'.join(str(x) for x in er['loc']).replace('_', '-')}: {er['msg'].removeprefix('Value error, ')}" for er in e.errors()), 2)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # JSON-RPC answers as soon as node.start() returns; the banner waits for the models, the
    # inference nodes and the gateways, which finish starting in the background (a progress
    # bar meanwhile). With --config-out, JSON-RPC answers only once the file is written
    # (scripts read it then).
    shown: dict[str, Any] = {}  # the progress bar, once there is one

    def loading(index: int, total: int, name: str) -> None:
        if "progress" in shown:
            shown["progress"].update(shown["task"], total=total, completed=index, description=f"Loading model {name}")

    def write_config(node: Any) -> None:
        assert config_out is not None
        config_out.write_text(json.dumps(_banner_info(node), indent=2) + "\n")

    node = Node(settings, on_model_loading=loading, answer_early=config_out is None,
                before_serving=write_config if config_out is not None else None)  # fmt: skip
    try:
        node.start()
    except (NodeError, Exception) as e:
        fail(str(e))
    # Who can reach the unlocked keys is said as soon as the node listens.
    for warning in exposure_warnings(settings.host, settings.allow_origins):
        err.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    from rich.progress import Progress

    with Progress(console=err.rich, transient=True) as progress:
        shown["task"] = progress.add_task("Loading models", total=None)
        shown["progress"] = progress
        try:
            while not node.finished_starting(0.1):
                if stop.is_set():
                    break
            if not stop.is_set():
                node.wait_ready()
        except (NodeError, Exception) as e:
            progress.stop()
            node.stop(raise_failure=False)
            fail(str(e))
    gc.enable()  # main() paused it for the start
    from og_devnet import heap

    heap.fix_mmap_threshold()  # this process is the node: keep its RSS flat (see heap.py)
    if stop.is_set():  # Ctrl-C while starting
        console.print("\nShutting down...")
        node.stop(raise_failure=False)
        return
    try:
        _print_banner(_banner_info(node), node)
        _report_zkml_setups(node, stop)
        next_trim = time.monotonic() + heap.TRIM_EVERY_S
        while not stop.wait(0.5):
            if time.monotonic() >= next_trim:
                heap.trim_heap()
                next_trim = time.monotonic() + heap.TRIM_EVERY_S
        console.print("\nShutting down...")
    finally:
        node.stop()


def _report_zkml_setups(node: Any, stop: threading.Event) -> None:
    """A line when each background ZKML set-up starts and when it ends."""
    if any(m["zkml_enabled"] for m in node.catalog.list()):
        node.zkml.warm()  # the first proof should not pay for starting the prover process
    pending = [m for m in node.catalog.list() if m["zkml"].startswith("circuit set-up")]
    for m in pending:
        err.print(f"ZKML: setting up the circuit of {m['name']} in the background (cached after the first time)...")

    def wait(m: dict[str, Any]) -> None:
        t0 = time.monotonic()
        ok = node.catalog.zkml_ready(m["id"])
        if not stop.is_set():
            state = "ready" if ok else node.catalog.get(m["id"])["zkml"]
            err.print(f"ZKML for {m['name']}: {state} ({time.monotonic() - t0:.1f} s)")

    for m in pending:
        threading.Thread(target=wait, args=(m,), daemon=True).start()


def _banner_info(node: Any) -> dict[str, Any]:
    from og_devnet._core import Chain

    return {
        "chain_id": node.chain.chain_id,
        "rpc_url": node.rpc_url,
        "explorer_url": node.explorer_url,
        "mnemonic": node.settings.mnemonic,
        "derivation_path": "m/44'/60'/0'/0/",
        "accounts": [
            {"address": a, "private_key": k, "balance_wei": str(node.chain.balance(a, "latest"))}
            for a, k in node.chain.dev_accounts()
        ],
        "contracts": dict(Chain.native_contracts()),
        "mining": node.info()["mining"],
        "hardfork": node.settings.hardfork,
        "state_dir": node.info()["state_dir"],
        "resumed_at_block": node.chain.head() if node.resumed else None,
        "models": [{"id": m["id"], "name": m["name"], "kind": m["kind"], "modes": m["modes"]} for m in node.catalog.list()],
        "inference_nodes": [{"index": n["id"], "address": n["address"], "fault": n["fault"]} for n in node.node_info()],
        "devices": node.devices.describe(),
        "llm_gateways": [g.info() for g in node.gateways],
    }


def _print_banner(info: dict[str, Any], node: Any) -> None:
    console.print(f"\n[bold]og-devnet[/] — verifiable AI inference devnet\n")
    console.print("Available Accounts\n==================")
    for i, a in enumerate(info["accounts"]):
        console.print(f"({i}) {a['address']} ({int(a['balance_wei']) / 10**18:g} OPG)", highlight=False)
    console.print("\nPrivate Keys\n==================")
    for i, a in enumerate(info["accounts"]):
        console.print(f"({i}) {a['private_key']}", highlight=False)
    console.print(f"\nWallet\n==================\nMnemonic:          {info['mnemonic']}")
    console.print(f"Derivation path:   {info['derivation_path']}<i>\n", highlight=False)
    console.print("Native contracts\n==================")
    for name, addr in info["contracts"].items():
        console.print(f"{name:<22} {addr}", highlight=False)
    console.print("\nModels\n==================")
    for m in info["models"]:
        console.print(f"{m['name']:<12} {m['kind']:<5} {m['id']}  {', '.join(m['modes'])}", highlight=False)
    console.print("\nInference nodes\n==================")
    for n in info["inference_nodes"]:
        console.print(f"node-{n['index']}  {n['address']}  {n['fault']}", highlight=False)
    devices = info["devices"]
    used = [f"{kind} on {d['device']}" + (f" ({d['fallback']})" if "fallback" in d else "") for kind, d in devices["runtimes"].items()]
    why = f" ({devices['reason']})" if "reason" in devices else ""
    console.print(f"devices: --device {devices['requested']} → {devices['target']}{why}; " + ("; ".join(used) or "no model loaded"),
                  highlight=False)  # fmt: skip
    if info["llm_gateways"]:
        console.print("\nLLM gateways (og.LLM(private_key, rpc_url=JSON-RPC); self-signed TLS, development only)\n==================")
        for g in info["llm_gateways"]:
            console.print(f"gateway-{g['index']}  {g['endpoint']}  tee_id {g['tee_id']}", highlight=False)
        if not node.settings.llm_free:
            # og.LLM pays through x402 on "Base": the devnet plays Base too (OPG token, Permit2).
            console.print("Paid in OPG (x402) on this devnet; before importing opengradient:", highlight=False)
            console.print(f"  export BASE_MAINNET_RPC={info['rpc_url']}", highlight=False)
    mining = info["mining"]
    mode = f"every {mining['block_time']:g} s" if mining["mode"] == "interval" else mining["mode"]
    console.print(f"\nChain ID:          {info['chain_id']}")
    console.print(f"Mining:            {mode}")
    console.print(f"Hard fork:         {info['hardfork']}")
    if info["state_dir"]:
        resumed = f" (resumed at block {info['resumed_at_block']})" if info["resumed_at_block"] is not None else ""
        console.print(f"State:             {info['state_dir']}{resumed}", highlight=False)
    console.print(f"JSON-RPC:          {info['rpc_url']}", highlight=False)
    console.print(f"Explorer:          {info['explorer_url']}", highlight=False)
    console.print(f"\nListening on {node.settings.host}:{node.port}", highlight=False)


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    """One JSON-RPC call, with the standard library's HTTP client: importing httpx (~0.1 s)
    would be most of a client command's time."""
    import http.client
    from urllib.parse import urlsplit

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    try:
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        conn_class = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(u.hostname, u.port, timeout=30)
        try:
            path = (u.path or "/") + (f"?{u.query}" if u.query else "")
            conn.request("POST", path, body, {"Content-Type": "application/json", "Accept": "application/json"})
            r = conn.getresponse()
            status, raw = r.status, r.read()
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException) as e:
        fail(f"cannot reach {url}: {e} (is `og-devnet up` running?)")
    try:
        answer = json.loads(raw)
    except ValueError:
        fail(f"{method}: {url} answered HTTP {status} with {raw[:200]!r}, not JSON-RPC")
    if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
        detail = answer.get("detail") if isinstance(answer, dict) else None
        fail(f"{method}: {url} answered HTTP {status}: {detail or str(answer)[:200]}")
    if "error" in answer:
        fail(f"{method}: {answer['error']['message']} (code {answer['error']['code']})")
    return answer["result"]


@app.command()
def mine(
    blocks: Annotated[int, typer.Argument(help="How many blocks to seal.", min=1, max=10_000)] = 1,
    rpc_url: RpcUrl = "http://127.0.0.1:8545/",
) -> None:
    """Seal blocks now on a running node."""
    before = int(_rpc(rpc_url, "eth_blockNumber", []), 16)
    _rpc(rpc_url, "anvil_mine", [hex(blocks)])
    after = int(_rpc(rpc_url, "eth_blockNumber", []), 16)
    console.print(f"mined {after - before} block(s): now at block {after}")


@app.command()
def status(rpc_url: RpcUrl = "http://127.0.0.1:8545/") -> None:
    """Show chain id, height, mining mode and mempool of a running node."""
    from rich.table import Table

    info = _rpc(rpc_url, "anvil_nodeInfo", [])
    table = Table(show_header=False)
    mining = info["mining"]
    rows = {
        "chain id": info["chain_id"],
        "block": info["block_number"],
        "mining": f"every {mining['block_time']:g} s" if mining["mode"] == "interval" else mining["mode"],
        "mempool": f"{info['mempool']['ready']} ready, {info['mempool']['queued']} queued",
        "state": info["state_dir"] or "temporary",
    }
    for k, v in rows.items():
        table.add_row(k, str(v))
    console.print(table)


models_app = typer.Typer(help="Register and list models.", no_args_is_help=True)
nodes_app = typer.Typer(help="Inference nodes: list them, set their faults.", invoke_without_command=True)
app.add_typer(models_app, name="models")
app.add_typer(nodes_app, name="nodes")


def _api_base(rpc_url: str) -> str:
    return rpc_url.rstrip("/")


@models_app.command("add")
def models_add(
    file: Annotated[Path, typer.Argument(help="An ONNX, GGUF or torch (.pt2 from torch.export, TorchScript .pt) model file.", exists=True, dir_okay=False, readable=True)],
    name: Annotated[str | None, typer.Option(help="A name to show (default: the file name).")] = None,
    zkml: Annotated[bool, typer.Option("--zkml", help="Set up a ZKML circuit for it and wait until it is ready.")] = False,
    rpc_url: RpcUrl = "http://127.0.0.1:8545/",
) -> None:
    """Upload a model to a running node and print its id."""
    import httpx
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from og_devnet.inference.catalog import MAX_MODEL_BYTES

    size = file.stat().st_size
    if size > MAX_MODEL_BYTES:  # the node would refuse it once the cap is reached (413)
        fail(f"{file.name} is {size} bytes; models are limited to {MAX_MODEL_BYTES} bytes")
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=err.rich, transient=True) as progress:  # fmt: skip
        task = progress.add_task(f"Uploading {file.name}", total=size)

        class Reader:
            def __init__(self) -> None:
                self.f = file.open("rb")

            def read(self, n: int = -1) -> bytes:
                chunk = self.f.read(n)
                progress.advance(task, len(chunk))
                return chunk

        try:
            r = httpx.post(f"{_api_base(rpc_url)}/api/models", files={"file": (file.name, Reader())},
                           data={k: v for k, v in (("name", name), ("zkml", "true" if zkml else None)) if v}, timeout=600)  # fmt: skip
        except httpx.HTTPError as e:
            fail(f"cannot reach {rpc_url}: {e} (is `og-devnet up` running?)")
    if r.status_code != 201:
        fail(f"{file.name}: {r.json().get('detail', r.text)}")
    m = r.json()
    console.print(f"registered {m['name']} ({m['kind']}): {m['id']}", highlight=False)
    if zkml:
        m = _wait_for_zkml(rpc_url, m)
        if m["zkml"] != "ready":
            fail(f"ZKML for {m['name']}: {m['zkml']}")
        console.print(f"ZKML ready for {m['name']}: modes {', '.join(m['modes'])}", highlight=False)


def _wait_for_zkml(rpc_url: str, m: dict[str, Any]) -> dict[str, Any]:
    """Polls the node while the circuit is set up, with a progress display (ezkl reports no
    fraction done, so elapsed time and the current stage)."""
    import httpx
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err.rich, transient=True) as progress:
        task = progress.add_task(f"ZKML set-up for {m['name']}", total=None)
        while m["zkml"].startswith("circuit set-up"):
            time.sleep(0.5)
            m = httpx.get(f"{_api_base(rpc_url)}/api/models/{m['id']}", timeout=30).json()
            progress.update(task, description=f"ZKML {m['zkml']}")
    return m


@models_app.command("list")
def models_list(rpc_url: RpcUrl = "http://127.0.0.1:8545/") -> None:
    """List the models a running node serves."""
    from rich.table import Table

    table = Table("name", "kind", "modes", "id")
    for m in _rpc(rpc_url, "og_models", []):
        table.add_row(m["name"], m["kind"], ", ".join(m["modes"]), m["id"])
    console.print(table)


@nodes_app.callback()
def nodes_list(ctx: typer.Context, rpc_url: RpcUrl = "http://127.0.0.1:8545/") -> None:
    """List the inference nodes with their fault, wins and latency."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    table = Table("node", "address", "fault", "healthy", "wins", "timeouts", "wrong", "p50 ms", "p95 ms")
    for n in _rpc(rpc_url, "og_nodes", []):
        lat = n["latency_ms"]
        table.add_row(f"node-{n['id']}", n["address"], n["fault"], "yes" if n["healthy"] else "no", str(n["wins"]),
                      str(n["timeouts"]), str(n["invalid"] + n["disagreements"]), str(lat["p50"]), str(lat["p95"]))  # fmt: skip
    console.print(table)


@nodes_app.command("fault")
def nodes_fault(
    index: Annotated[int, typer.Argument(help="Node index (0-based).")],
    fault: Annotated[str, typer.Argument(help="ok, slow:FACTOR, down, flaky:P or byzantine.")],
    rpc_url: RpcUrl = "http://127.0.0.1:8545/",
) -> None:
    """Change a node's fault mode while the devnet runs."""
    n = _rpc(rpc_url, "og_setNodeFault", [index, fault])
    console.print(f"node-{n['id']} is now {n['fault']}")


@app.command()
def workflows(
    runs: Annotated[int, typer.Option("--runs", help="Runs shown per task, newest last.", min=0, max=1000)] = 3,
    rpc_url: RpcUrl = "http://127.0.0.1:8545/",
) -> None:
    """List the workflow scheduler's tasks with their last runs and outputs."""
    import datetime

    from rich.table import Table

    tasks = _rpc(rpc_url, "og_workflows", [runs])
    if not tasks:
        console.print("no workflow tasks (register one with registerTask at 0x7179…8eF6, or the SDK's new_workflow)")
        return
    table = Table("task", "contract", "model / query", "every", "runs", "failed", "next run", "last outputs")
    for t in tasks:
        q = t["query"]
        what = "—" if t["modelId"] is None else f"{t['modelId'][:12]}…"
        if q:
            what += f"\n{q['base']}/{q['quote']} {q['totalCandles']}×{q['candleDurationMins']}m"
        state = "cancelled" if t["cancelled"] else "ended" if not t["active"] else (
            datetime.datetime.fromtimestamp(t["nextRun"], datetime.UTC).strftime("%H:%M:%S UTC"))  # fmt: skip
        outputs = ", ".join(
            ("failed" if not r["ok"] else "—" if r["output"] is None else f"{r['output']:.6g}") + f" (#{r['block']})"
            for r in t["recentRuns"]
        )
        table.add_row(str(t["id"]), t["contract"], what, f"{t['frequency']} s", str(t["runs"]), str(t["failures"]), state, outputs or "—")
    console.print(table)


#: Mode numbers by name (the core's `Mode`).
MODES = {m.name: int(m) for m in Mode.all()}


@app.command()
def infer(
    model: Annotated[str, typer.Argument(help="Model id (or name, looked up on the node).")],
    input: Annotated[str | None, typer.Option("--input", help='ONNX models: JSON like {"input": [[1, 2, 3, 4]]}.')] = None,
    prompt: Annotated[str | None, typer.Option(help="Language models: the prompt (runLLMCompletion).")] = None,
    max_tokens: Annotated[int, typer.Option(help="Language models: tokens to generate.")] = 32,
    mode: Annotated[str, typer.Option(help="VANILLA, ZKML, TEE or OPTIMISTIC.")] = "VANILLA",
    account: Annotated[int, typer.Option(help="Dev account index that sends the transaction.")] = 0,
    rpc_url: RpcUrl = "http://127.0.0.1:8545/",
) -> None:
    """Run an inference through the hub contract and print the result and its timeline."""
    import time

    from og_devnet._core import decode_result_log, encode_completion_call, encode_run_call
    from og_devnet.inference.fixedpoint import model_input

    if mode.upper() not in MODES:
        fail(f"--mode {mode}: expected one of {', '.join(MODES)}", 2)
    if (input is None) == (prompt is None):
        fail("give --input (ONNX models) or --prompt (language models)", 2)
    models = _rpc(rpc_url, "og_models", [])
    found = [m for m in models if model in (m["id"], m["name"])]
    model_id = found[0]["id"] if found else model
    if prompt is not None:
        data = encode_completion_call(model_id, MODES[mode.upper()], prompt, max_tokens)
    else:
        try:
            numbers, strings = model_input(json.loads(input or ""))
        except (ValueError, AttributeError) as e:
            fail(f"--input: {e}", 2)
        data = encode_run_call(model_id, MODES[mode.upper()], json.dumps(numbers), json.dumps(strings))
    accounts = _rpc(rpc_url, "eth_accounts", [])
    if not 0 <= account < len(accounts):
        fail(f"--account {account}: the node has {len(accounts)} dev accounts", 2)
    tx = {"from": accounts[account], "to": "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE", "data": "0x" + data.hex()}
    tx["gas"] = _rpc(rpc_url, "eth_estimateGas", [tx])  # a bad request stops here, with its reason
    tx_hash = _rpc(rpc_url, "eth_sendTransaction", [tx])
    deadline = time.monotonic() + 120
    receipt, pause = None, 0.002
    while receipt is None and time.monotonic() < deadline:
        receipt = _rpc(rpc_url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is None:
            time.sleep(pause)  # automine answers within milliseconds; a block time takes longer
            pause = min(pause * 2, 0.05)
    if receipt is None:
        fail(f"{tx_hash} was not mined within 120 s (is mining on?)")
    record = _rpc(rpc_url, "og_getInference", [tx_hash])
    if receipt["status"] != "0x1":
        fail(f"inference failed: {record.get('error') if record else 'reverted'}")
    outputs = [decode_result_log(log["topics"][0], log["data"]) for log in receipt["logs"]]
    result = json.loads(next(o for o in outputs if o is not None))
    if "numbers" in result:
        from og_devnet.inference.fixedpoint import from_fixed

        result = {t["name"]: {"shape": t["shape"], "values": [float(from_fixed(v, d)) for v, d in t["values"]]}
                  for t in result["numbers"]} | {t["name"]: t["values"] for t in result["strings"]}  # fmt: skip
    console.print_json(json.dumps(result))
    t = record
    winner = f"node-{t['winner_node']}" if t.get("winner_node") is not None else "?"
    console.print(f"tx {tx_hash} in block {int(receipt['blockNumber'], 16)}; {t['mode_name']}, status {t['status']}; "
                  f"result {t['t_result'] - t['t_request']} ms after the request from {winner} "
                  f"({len(t['attempts'])} attempt(s))", highlight=False)  # fmt: skip


def main() -> None:
    # A command's start allocates many objects that live on (modules, the parameters, the
    # node) and frees few: the cyclic garbage collector's passes over them find nothing and
    # cost `up` ~20 ms before its first answer. It runs again once the node has started (`up`)
    # or the command has ended.
    gc.disable()
    try:
        app()
    finally:
        gc.enable()


if __name__ == "__main__":
    main()
