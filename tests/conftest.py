"""Shared fixtures: a real node on a free loopback port, and web3 pointed at it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from og_devnet import Devnet
from web3 import Web3

DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
]
DEV0 = Account.from_key(DEV_KEYS[0])
DEV1 = Account.from_key(DEV_KEYS[1])
RECIPIENT = "0x00000000000000000000000000000000000000AA"


@pytest.fixture(scope="session", autouse=True)
def zkml_circuit_cache() -> None:
    """Sets up the fixture MLP's ZKML circuit once, in the user cache every devnet links from.
    Otherwise, on a fresh machine, each short-lived test devnet would start the ~15 s set-up
    in the background and abandon it when it stops."""
    import tempfile

    from og_devnet._core import content_id
    from og_devnet.config import Settings
    from og_devnet.inference.catalog import FIXTURES
    from og_devnet.inference.prover import ZkmlService

    with tempfile.TemporaryDirectory() as d:
        service = ZkmlService(Path(d), Settings().zkml_cache)
        try:
            service.setup(content_id(FIXTURES / "mlp.onnx"), FIXTURES / "mlp.onnx", [1, 4]).result(timeout=600)
        finally:
            service.close()


@pytest.fixture
def manual_node() -> Iterator[Devnet]:
    """Blocks only when a test asks: heights and balances are stable between calls."""
    with Devnet(mining="manual") as node:
        yield node


@pytest.fixture
def auto_node() -> Iterator[Devnet]:
    with Devnet(mining="auto") as node:
        yield node


@pytest.fixture
def w3(manual_node: Devnet) -> Web3:
    return Web3(Web3.HTTPProvider(manual_node.rpc_url))


def rpc(node: Devnet, method: str, params: list[Any] | None = None) -> dict[str, Any]:
    """The raw JSON-RPC response (result or error) for one call."""
    r = httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    r.raise_for_status()
    return r.json()


def result(node: Devnet, method: str, params: list[Any] | None = None) -> Any:
    body = rpc(node, method, params)
    assert "error" not in body, body
    return body["result"]


def node_state(node: Devnet) -> dict[str, Any]:
    """What a state-changing call would change, read as a local client (no Origin)."""
    return {
        "head": result(node, "eth_blockNumber"),
        "balances": [result(node, "eth_getBalance", [a, "latest"]) for a in (DEV0.address, RECIPIENT)],
        "nonce": result(node, "eth_getTransactionCount", [DEV0.address, "pending"]),
        "pool": result(node, "txpool_status"),
        "faults": [n["fault"] for n in result(node, "og_nodes")],
        "models": sorted(m["id"] for m in result(node, "og_models")),
        "mining": result(node, "anvil_nodeInfo")["mining"],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def og_devnet_command() -> str:
    """The installed `og-devnet` console script, as a user runs it."""
    beside = Path(sys.executable).parent / "og-devnet"
    found = str(beside) if beside.exists() else shutil.which("og-devnet")
    assert found, "og-devnet is not installed (pip install -e .)"
    return found


def start_cli(*args: str, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Runs `og-devnet up` as a real subprocess and waits until it answers JSON-RPC."""
    proc = subprocess.Popen(
        [og_devnet_command(), "up", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    wait_for_rpc(f"http://127.0.0.1:{port}/", proc)
    return proc


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Polls `check` every 0.1 s until it returns something truthy, which it returns; fails
    naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_rpc(url: str, proc: subprocess.Popen[str] | None = None, timeout: float = 30) -> float:
    """Polls eth_blockNumber until it answers; returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"og-devnet exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}, timeout=1)
            if r.status_code == 200 and "result" in r.json():
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return out


REPO = Path(__file__).resolve().parents[1]
