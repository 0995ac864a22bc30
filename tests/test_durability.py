"""What a client was told survives: accepted transactions outlive `kill -9`, extra blocks
do not delay interval blocks, and kept-alive connections are not held back by Nagle."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
from eth_account import Account

from og_devnet import Devnet
from og_devnet.node import Node
from conftest import DEV_KEYS, RECIPIENT, free_port, result, start_cli, stop


def _call(url: str, method: str, params: list | None = None) -> object:
    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=30).json()
    assert "error" not in body, body
    return body["result"]


def _signed_transfers(key: str, chain_id: int, count: int, first_nonce: int = 0) -> list[str]:
    acct = Account.from_key(key)
    return [
        "0x" + acct.sign_transaction({"to": RECIPIENT, "value": 1 + i, "gas": 21000, "maxFeePerGas": 50 * 10**9,
                                      "maxPriorityFeePerGas": 10**9, "nonce": first_nonce + i, "chainId": chain_id}).raw_transaction.hex()
        for i in range(count)
    ]  # fmt: skip


def _kill9(proc) -> None:  # type: ignore[no-untyped-def]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_accepted_transactions_survive_kill_9_in_manual_mining(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_cli("--no-mining", "--no-fixtures", "--no-zkml", "--state", str(tmp_path), port=port)
    try:
        chain_id = int(_call(url, "eth_chainId"), 16)  # type: ignore[arg-type]
        raws = _signed_transfers(DEV_KEYS[0], chain_id, 120) + _signed_transfers(DEV_KEYS[1], chain_id, 3, first_nonce=0)
        # Some one by one, some in batches, as clients send them; a gap-free sequence per sender.
        hashes = [_call(url, "eth_sendRawTransaction", [r]) for r in raws[:20]]
        for i in range(20, len(raws), 40):
            batch = [{"jsonrpc": "2.0", "id": j, "method": "eth_sendRawTransaction", "params": [r]} for j, r in enumerate(raws[i:i + 40])]
            hashes += [r["result"] for r in sorted(httpx.post(url, json=batch).json(), key=lambda r: r["id"])]
        _kill9(proc)

        proc = start_cli("--no-mining", "--no-fixtures", "--no-zkml", "--state", str(tmp_path), port=port)
        pending = [_call(url, "eth_getTransactionByHash", [h]) for h in hashes]
        assert all(tx is not None and tx["blockNumber"] is None for tx in pending)
        _call(url, "evm_mine")
        receipts = [_call(url, "eth_getTransactionReceipt", [h]) for h in hashes]
        assert all(r is not None and r["status"] == "0x1" for r in receipts)
        # Mined: nothing is replayed a second time.
        stop(proc)
        proc = start_cli("--no-mining", "--no-fixtures", "--no-zkml", "--state", str(tmp_path), port=port)
        assert _call(url, "txpool_status") == {"pending": "0x0", "queued": "0x0"}
    finally:
        stop(proc)


def test_accepted_transactions_survive_kill_9_while_interval_mining(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_cli("--block-time", "0.05", "--no-fixtures", "--no-zkml", "--state", str(tmp_path), port=port)
    try:
        chain_id = int(_call(url, "eth_chainId"), 16)  # type: ignore[arg-type]
        raws = _signed_transfers(DEV_KEYS[0], chain_id, 303)
        hashes = []
        with httpx.Client() as c:
            for i in range(0, len(raws), 3):
                batch = [{"jsonrpc": "2.0", "id": j, "method": "eth_sendRawTransaction", "params": [r]} for j, r in enumerate(raws[i:i + 3])]
                hashes += [r["result"] for r in sorted(c.post(url, json=batch).json(), key=lambda r: r["id"])]
        _kill9(proc)  # blocks are being sealed and committed all along

        proc = start_cli("--no-mining", "--no-fixtures", "--no-zkml", "--state", str(tmp_path), port=port)
        _call(url, "evm_mine")
        missing = [h for h in hashes if _call(url, "eth_getTransactionReceipt", [h]) is None]
        assert missing == []
        assert int(_call(url, "eth_getTransactionCount", [Account.from_key(DEV_KEYS[0]).address, "latest"]), 16) == 303  # type: ignore[arg-type]
    finally:
        stop(proc)


def test_evm_mine_does_not_push_back_the_next_interval_block() -> None:
    with Devnet(block_time=2.0, fixtures=False, zkml=False) as node:
        start = result(node, "eth_blockNumber")
        # Wait for an interval block, so the next one is due 2 s after it.
        deadline = time.monotonic() + 10
        while result(node, "eth_blockNumber") == start and time.monotonic() < deadline:
            time.sleep(0.01)
        first = int(result(node, "eth_blockNumber"), 16)
        due_ms = int(result(node, "eth_getBlockByNumber", [hex(first), False])["timestampMs"], 16) + 2000
        for _ in range(4):
            result(node, "evm_mine")
        head = first + 4
        # The interval block still comes on its slot (not 2 s after the last evm_mine).
        while int(result(node, "eth_blockNumber"), 16) == head and time.monotonic() < deadline + 10:
            time.sleep(0.01)
        block = result(node, "eth_getBlockByNumber", [hex(head + 1), False])
        assert block is not None
        assert int(block["timestampMs"], 16) - due_ms < 1000


def test_listening_socket_and_accepted_connections_use_tcp_nodelay() -> None:
    sock = Node._bind("127.0.0.1", 0)
    try:
        # asyncio sets TCP_NODELAY on accepted connections only when the proto says TCP.
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()
    with Devnet(mining="manual", fixtures=False, zkml=False) as node, httpx.Client() as client:
        client.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
        assert node._server is not None
        accepted = [conn.transport.get_extra_info("socket") for conn in node._server.server_state.connections]
        assert accepted, "the kept-alive connection is open"
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1 for s in accepted)
