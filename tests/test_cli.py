"""`og-devnet` as a user runs it: a real subprocess, real ports, real signals."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
from eth_account import Account
from web3 import Web3

from conftest import DEV0, RECIPIENT, free_port, og_devnet_command, start_cli, stop, wait_for_rpc


def test_up_answers_and_produces_blocks(tmp_path: Path) -> None:
    # How fast it starts and how regular its blocks are is measured in bench/startup.py and
    # bench/block_interval.py; here, that it serves and mines at all.
    port = free_port()
    proc = subprocess.Popen([og_devnet_command(), "up", "--port", str(port), "--block-time", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for_rpc(f"http://127.0.0.1:{port}/", proc)
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}/"))
        h0, deadline = w3.eth.block_number, time.monotonic() + 30
        while (h1 := w3.eth.block_number) < h0 + 3:
            assert time.monotonic() < deadline, f"no new blocks in 30 s with --block-time 0.2 (head {h1})"
            time.sleep(0.05)
        blocks = [w3.eth.get_block(n) for n in range(h1 + 1)]
        stamps = [b["timestampMs"] for b in blocks]
        assert stamps == sorted(stamps) and [b["timestamp"] for b in blocks] == sorted(b["timestamp"] for b in blocks)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "Shutting down" in out
    assert "Chain ID:          10744" in out
    assert "Hard fork:         prague" in out
    assert "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" in out
    assert "LLM gateways" in out and "gateway-3  https://127.0.0.1:" in out  # one per node by default
    assert f"http://127.0.0.1:{port}/" in out
    assert "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE" in out


def test_config_out_and_options(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "devnet.json"
    proc = start_cli("--no-mining", "--chain-id", "4242", "--accounts", "3", "--balance", "7", "--llm-gateways", "1",
                     "--config-out", str(cfg), port=port)  # fmt: skip
    try:
        info = json.loads(cfg.read_text())
        assert info["chain_id"] == 4242 and len(info["accounts"]) == 3
        assert info["accounts"][0]["address"] == DEV0.address
        assert Account.from_key(info["accounts"][2]["private_key"]).address == info["accounts"][2]["address"]
        assert info["accounts"][0]["balance_wei"] == str(7 * 10**18)
        assert info["rpc_url"] == f"http://127.0.0.1:{port}/"
        assert info["contracts"]["tee_registry"] == "0x703cB174AEadB35D611858369B4b1111dC9Abda6"
        [gateway] = info["llm_gateways"]
        assert gateway["endpoint"].startswith("https://127.0.0.1:") and gateway["tee_id"].startswith("0x")
        w3 = Web3(Web3.HTTPProvider(info["rpc_url"]))
        assert w3.eth.chain_id == 4242 and w3.eth.block_number == 0
        out = subprocess.run([og_devnet_command(), "mine", "3", "--rpc-url", info["rpc_url"]], capture_output=True, text=True)
        assert out.returncode == 0 and "now at block 3" in out.stdout
        assert w3.eth.block_number == 3
        status = subprocess.run([og_devnet_command(), "status", "--rpc-url", info["rpc_url"]], capture_output=True, text=True)
        assert status.returncode == 0 and "4242" in status.stdout and "manual" in status.stdout
    finally:
        stop(proc)


def test_bad_options_fail_clearly(tmp_path: Path) -> None:
    cmd = og_devnet_command()
    r = subprocess.run([cmd, "up", "--block-time", "-1"], capture_output=True, text=True)
    assert r.returncode == 2 and "--block-time" in r.stderr
    r = subprocess.run([cmd, "up", "--automine", "--no-mining"], capture_output=True, text=True)
    assert r.returncode == 2 and "exclude each other" in r.stderr
    r = subprocess.run([cmd, "up", "--mnemonic", "only three words"], capture_output=True, text=True)
    assert r.returncode == 2 and "--mnemonic" in r.stderr
    r = subprocess.run([cmd, "up", "--genesis", str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = subprocess.run([cmd, "mine", "--rpc-url", f"http://127.0.0.1:{free_port()}/"], capture_output=True, text=True)
    assert r.returncode == 1 and "is `og-devnet up` running?" in r.stderr
    for sub in ("up", "mine", "status"):
        h = subprocess.run([cmd, sub, "--help"], capture_output=True, text=True)
        assert h.returncode == 0 and "Usage" in h.stdout


def test_node_faults_and_pipe_options() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_cli("--no-mining", "--nodes", "3", "--redundancy", "2", "--node-fault", "1=down",
                     "--node-fault", "2=slow:20", port=port)  # fmt: skip
    try:
        nodes = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "og_nodes", "params": []}).json()["result"]
        assert [n["fault"] for n in nodes] == ["ok", "down", "slow:20"]
        stats = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "og_pipeStats", "params": []}).json()["result"]
        assert stats["config"]["redundancy"] == 2
        listing = subprocess.run([og_devnet_command(), "nodes", "--rpc-url", url], capture_output=True, text=True)
        assert listing.returncode == 0 and "down" in listing.stdout
        changed = subprocess.run([og_devnet_command(), "nodes", "fault", "1", "byzantine", "--rpc-url", url], capture_output=True, text=True)
        assert changed.returncode == 0 and "node-1 is now byzantine" in changed.stdout
        bad = subprocess.run([og_devnet_command(), "nodes", "fault", "1", "lazy", "--rpc-url", url], capture_output=True, text=True)
        assert bad.returncode == 1 and "unknown fault" in bad.stderr
    finally:
        out = stop(proc)
    assert "node-1" in out and "down" in out
    for bad_args, message in ((["--node-fault", "9=down"], "only 3 nodes"), (["--node-fault", "x"], "INDEX=FAULT"),
                              (["--node-fault", "0=sleepy"], "unknown fault"), (["--redundancy", "0"], "--redundancy")):  # fmt: skip
        r = subprocess.run([og_devnet_command(), "up", "--nodes", "3", *bad_args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and message in r.stderr, (bad_args, r.stderr)


def test_port_in_use_is_a_clear_error() -> None:
    port = free_port()
    proc = start_cli("--no-mining", port=port)
    try:
        r = subprocess.run([og_devnet_command(), "up", "--port", str(port)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in r.stderr
    finally:
        stop(proc)


def test_genesis_file(tmp_path: Path) -> None:
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps({"config": {"chainId": 777}, "alloc": {RECIPIENT: {"balance": hex(12345)}}}))
    port = free_port()
    proc = start_cli("--no-mining", "--genesis", str(genesis), port=port)
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}/"))
        assert w3.eth.chain_id == 777
        assert w3.eth.get_balance(RECIPIENT) == 12345
        assert w3.eth.get_balance(DEV0.address) == 10_000 * 10**18
    finally:
        stop(proc)


def test_kill_9_then_restart_resumes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_cli("--block-time", "0.1", "--state", str(state), port=port)
    w3 = Web3(Web3.HTTPProvider(url))
    hashes = []
    for i in range(5):
        tx = {"to": RECIPIENT, "value": 1000 + i, "gas": 21000, "gasPrice": 2 * 10**9, "nonce": i, "chainId": w3.eth.chain_id}
        hashes.append(w3.eth.send_raw_transaction(DEV0.sign_transaction(tx).raw_transaction))
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=10) for h in hashes]
    httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": [DEV0.address, hex(10**21)]})
    time.sleep(0.3)
    height_before = w3.eth.block_number
    dev_balance = w3.eth.get_balance(DEV0.address)
    proc.kill()  # SIGKILL: no shutdown code runs
    proc.wait(timeout=10)

    proc = start_cli("--block-time", "0.1", "--state", str(state), port=port)
    try:
        assert w3.eth.block_number >= height_before, "the height continues"
        for h, r in zip(hashes, receipts, strict=True):
            again = w3.eth.get_transaction_receipt(h)
            assert again["status"] == 1 and again["blockHash"] == r["blockHash"]
        assert w3.eth.get_balance(RECIPIENT) == sum(1000 + i for i in range(5))
        assert w3.eth.get_transaction_count(DEV0.address) == 5
        assert w3.eth.get_balance(DEV0.address) == dev_balance
        tx = {"to": RECIPIENT, "value": 1, "gas": 21000, "gasPrice": 2 * 10**9, "nonce": 5, "chainId": w3.eth.chain_id}
        h = w3.eth.send_raw_transaction(DEV0.sign_transaction(tx).raw_transaction)
        assert w3.eth.wait_for_transaction_receipt(h, timeout=10)["status"] == 1
        latest = w3.eth.get_block("latest")
        assert w3.eth.get_block(latest["number"] - 1)["hash"] == latest["parentHash"]
    finally:
        out = stop(proc)
    assert "resumed at block" in out
