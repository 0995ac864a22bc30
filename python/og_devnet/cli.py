"""`og-devnet`: parses options and runs a Node. Nothing else lives here."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from og_devnet.config import DEFAULT_CHAIN_ID, DEFAULT_MNEMONIC, MiningMode, Settings

app = typer.Typer(
    name="og-devnet",
    help="A local devnet for verifiable AI inference in the style of OpenGradient.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

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
) -> None:
    """Start the devnet and serve it until Ctrl-C."""
    from og_devnet.node import Node, NodeError

    if automine and no_mining:
        fail("--automine and --no-mining exclude each other", 2)
    mining = MiningMode.auto if automine else MiningMode.manual if no_mining else MiningMode.interval
    try:
        settings = Settings(
            host=host, port=port, mining=mining, block_time=block_time, chain_id=chain_id, accounts=accounts,
            balance=balance, mnemonic=mnemonic, genesis=genesis, state=state, db=db,
        )  # fmt: skip
    except ValidationError as e:
        fail("; ".join(f"--{'-'.join(str(x) for x in er['loc']).replace('_', '-')}: {er['msg'].removeprefix('Value error, ')}" for er in e.errors()), 2)
    node = Node(settings)
    try:
        node.start()
    except (NodeError, Exception) as e:
        fail(str(e))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        info = _banner_info(node)
        if config_out is not None:
            config_out.write_text(json.dumps(info, indent=2) + "\n")
        _print_banner(info, node)
        while not stop.wait(0.5):
            pass
        console.print("\nShutting down...")
    finally:
        node.stop()


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
        "state_dir": node.info()["state_dir"],
        "resumed_at_block": node.chain.head() if node.resumed else None,
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
    mining = info["mining"]
    mode = f"every {mining['block_time']:g} s" if mining["mode"] == "interval" else mining["mode"]
    console.print(f"\nChain ID:          {info['chain_id']}")
    console.print(f"Mining:            {mode}")
    if info["state_dir"]:
        resumed = f" (resumed at block {info['resumed_at_block']})" if info["resumed_at_block"] is not None else ""
        console.print(f"State:             {info['state_dir']}{resumed}", highlight=False)
    console.print(f"JSON-RPC:          {info['rpc_url']}", highlight=False)
    console.print(f"Explorer:          {info['explorer_url']}", highlight=False)
    console.print(f"\nListening on {node.settings.host}:{node.port}", highlight=False)


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    try:
        r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30)
    except httpx.HTTPError as e:
        fail(f"cannot reach {url}: {e} (is `og-devnet up` running?)")
    body = r.json()
    if "error" in body:
        fail(f"{method}: {body['error']['message']} (code {body['error']['code']})")
    return body["result"]


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
