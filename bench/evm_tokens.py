"""EVM throughput: ERC-20 token transfers per second against two baselines, and plain ETH
transfers per second before and after the EVM came into og-devnet's core, in one run.

(a) `bench/contracts/Token.vy` (a minimal ERC-20: balanceOf, transfer emitting Transfer; vyper,
    evm_version cancun), deployed, then N transfers signed in advance (EIP-1559, gas 60,000) from
    one sender, nonces in sequence, to N new recipients (each transfer writes a fresh balance slot).
    Timed per engine, all in this process:
    - og-devnet's core (`og_devnet._core.Chain`, mining "manual", the node's default genesis):
      submit_raw of every transfer, then seal_block + publish until the pool is empty. Blocks
      are built as the node builds them (JSON records included) but not written to a store.
    - pyrevm (revm without og-devnet around it): `EVM.message_call` per transfer, state kept
      in its journal, gas metered. pyrevm 0.3.7 has no transaction API: no signature recovery,
      RLP decoding, nonce or fee charging, no blocks, so it is the cost of bare revm execution.
    - py-evm through eth-tester's `PyEVMBackend` directly (not the EthereumTester wrapper and its
      input validation): send_raw_transaction of each signed transfer (RLP decode, signature
      recovery, execution), then mine_blocks: a block per transfer, as eth-tester's automine.
      That is py-evm's fastest way: it rebuilds the pending block's transaction and receipt
      tries on every transaction, so fuller blocks cost quadratically more (300 transfers on
      2 cores: 150 tx/s a block each, 48 tx/s 50 a block, 7 tx/s all in one block).
    Afterwards: receipts of a sample have status 1 and balanceOf(recipient) is what was sent.
(b) Plain transfers (21,000 gas, one dev account to N different EOAs) through the core: submit_raw
    all, seal + publish until mined; median of 3 fresh chains. "before" is the core as of
    --before-ref (built once with maturin into ~/.cache/og-devnet-bench/<commit>/), "after" the
    installed `og_devnet._core`; each runs the same worker in a subprocess.

    python bench/evm_tokens.py [--txs 2000] [--plain-txs 5000] [--before-ref b8df3d0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # dev account 0
MNEMONIC = "test test test test test test test test test test test junk"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SUPPLY = 10**30
TRANSFER_GAS = 60_000
TRANSFER, BALANCE_OF = keccak(text="transfer(address,uint256)")[:4], keccak(text="balanceOf(address)")[:4]
TRUE = (1).to_bytes(32, "big")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def make_chain(core):  # as python/og_devnet/node.py builds it, with the default settings
    config = dict(chain_id=10744, mnemonic=MNEMONIC, accounts=10, balance=10_000 * 10**18, timestamp_ms=now_ms(),
                  base_fee=10**9, gas_limit=30_000_000, base_fee_change=True, mining="manual")  # fmt: skip
    try:
        return core.Chain(config)
    except TypeError:  # the core before ChainConfig took keyword arguments
        return core.Chain(**config)


def recipient(i: int) -> str:
    return to_checksum_address(keccak(b"bench recipient" + i.to_bytes(8, "big"))[:20])


def sign(acct, chain_id: int, base_fee: int, nonce: int, **tx) -> bytes:
    tx = {"value": 0, "maxFeePerGas": 4 * base_fee + 10**9, "maxPriorityFeePerGas": 10**9, "nonce": nonce, "chainId": chain_id, **tx}
    return bytes(acct.sign_transaction(tx).raw_transaction)


def transfer_data(i: int) -> bytes:
    return TRANSFER + encode(["address", "uint256"], [recipient(i), i + 1])


def token_creation() -> bytes:
    import vyper
    from vyper.compiler.settings import Settings

    src = (HERE / "contracts" / "Token.vy").read_text()
    code = vyper.compile_code(src, output_formats=["bytecode"], settings=Settings(evm_version="cancun"))["bytecode"]
    return bytes.fromhex(code[2:]) + encode(["uint256"], [SUPPLY])


def mine_all(chain) -> int:
    """Seals and publishes blocks until the pool is empty; the number of blocks."""
    blocks = 0
    while chain.pool_counts() != (0, 0):
        sealed = chain.seal_block(now_ms())
        chain.publish(sealed.number)
        blocks += 1
        if sealed.tx_count == 0:
            raise RuntimeError(f"block {sealed.number} took none of the pooled transactions {chain.pool_counts()}")
    return blocks


def submit_all(chain, core, raws: list[bytes]) -> list[str]:
    hashes = []
    for raw in raws:
        try:
            hashes.append(chain.submit_raw(raw))
        except core.PoolFull:  # more than the pool holds: make room
            chain.publish(chain.seal_block(now_ms()).number)
            hashes.append(chain.submit_raw(raw))
    return hashes


# ---- (a) token transfers ----


def core_tokens(creation: bytes, n: int) -> tuple[float, int] | None:
    from og_devnet import _core

    chain, acct = make_chain(_core), Account.from_key(KEY)
    try:
        deploy_hash = chain.submit_raw(sign(acct, chain.chain_id, chain.base_fee, 0, data=creation, gas=2_000_000))
        mine_all(chain)
        receipt = json.loads(chain.receipt_json(deploy_hash) or "null")
        if not receipt or receipt["status"] != "0x1" or not receipt.get("contractAddress"):
            raise RuntimeError(f"the deployment failed: {receipt}")
    except Exception as e:  # noqa: BLE001 - before the EVM: code -32004
        print(f"  og-devnet core: contract creation unsupported by this build ({type(e).__name__}: {e})")
        return None
    token = to_checksum_address(receipt["contractAddress"])
    raws = [sign(acct, chain.chain_id, chain.base_fee, 1 + i, to=token, data=transfer_data(i), gas=TRANSFER_GAS) for i in range(n)]
    t0 = time.perf_counter()
    hashes = submit_all(chain, _core, raws)
    blocks = mine_all(chain)
    dt = time.perf_counter() - t0
    for i in {0, n // 2, n - 1}:
        assert json.loads(chain.receipt_json(hashes[i]))["status"] == "0x1", i
        got = chain.call({"to": token, "data": "0x" + (BALANCE_OF + encode(["address"], [recipient(i)])).hex()}, "latest")
        assert int(got, 16) == i + 1, (i, got)
    return n / dt, blocks


def pyrevm_tokens(creation: bytes, n: int) -> float:
    from pyrevm import EVM

    sender = Account.from_key(KEY).address
    evm = EVM(spec_id="CANCUN")
    evm.set_balance(sender, 10**22)
    token = evm.deploy(sender, creation, gas=2_000_000)
    calls = [transfer_data(i) for i in range(n)]
    t0 = time.perf_counter()
    evm.snapshot()
    for data in calls:
        assert evm.message_call(sender, token, data, gas=TRANSFER_GAS, gas_price=2 * 10**9) == TRUE
    evm.commit()
    dt = time.perf_counter() - t0
    for i in {0, n // 2, n - 1}:
        got = evm.message_call(sender, token, BALANCE_OF + encode(["address"], [recipient(i)]), is_static=True)
        assert int.from_bytes(got, "big") == i + 1, (i, got)
    return n / dt


def pyevm_tokens(creation: bytes, n: int) -> float:
    from eth_tester import EthereumTester, PyEVMBackend

    backend, acct = PyEVMBackend.from_mnemonic(MNEMONIC, num_accounts=1, hd_path="m/44'/60'/0'/0"), Account.from_key(KEY)
    chain_id, base_fee = backend.chain.chain_id, backend.get_base_fee()
    deploy_hash = backend.send_raw_transaction(sign(acct, chain_id, base_fee, 0, data=creation, gas=2_000_000))
    backend.mine_blocks()
    token = to_checksum_address(backend.get_transaction_receipt(deploy_hash)["contract_address"])
    raws = [sign(acct, chain_id, base_fee, 1 + i, to=token, data=transfer_data(i), gas=TRANSFER_GAS) for i in range(n)]
    t0 = time.perf_counter()
    hashes = []
    for raw in raws:  # a block per transfer: py-evm's fastest (see the docstring)
        hashes.append(backend.send_raw_transaction(raw))
        backend.mine_blocks()
    dt = time.perf_counter() - t0
    tester = EthereumTester(backend, auto_mine_transactions=False)
    for i in {0, n // 2, n - 1}:
        assert backend.get_transaction_receipt(hashes[i])["status"] == 1, i
        got = tester.call({"from": acct.address, "to": token, "data": "0x" + (BALANCE_OF + encode(["address"], [recipient(i)])).hex()})
        assert int(got, 16) == i + 1, (i, got)
    return n / dt


def bench_tokens(args: argparse.Namespace) -> None:
    from importlib.metadata import version

    n, creation = args.txs, token_creation()
    print(f"(a) {n} ERC-20 transfers (bench/contracts/Token.vy, vyper {version('vyper')}, cancun) signed in advance "
          f"from one sender to {n} new recipients:")  # fmt: skip
    core = core_tokens(creation, n)
    if core:
        print(f"  og-devnet core (in process: submit_raw + seal/publish, {core[1]} blocks, no store): {core[0]:9.0f} tx/s")
    revm_rate = pyrevm_tokens(creation, n)
    print(f"  pyrevm {version('pyrevm')} (message_call: bare revm, no signatures/nonces/fees/blocks): {revm_rate:9.0f} tx/s")
    pyevm_rate = pyevm_tokens(creation, n)
    print(f"  py-evm {version('py-evm')} (eth-tester PyEVMBackend: send_raw_transaction + a block each): {pyevm_rate:9.0f} tx/s")
    if core:
        print(f"  ratio og-devnet / pyrevm: {core[0] / revm_rate:.2f}; og-devnet / py-evm: {core[0] / pyevm_rate:.2f}")
    else:
        print(f"  ratios og-devnet / pyrevm, og-devnet / py-evm: n/a (pyrevm / py-evm: {revm_rate / pyevm_rate:.1f})")


# ---- (b) plain transfers, before and after the EVM ----


def worker_plain(raws_path: str, repeat: int) -> None:
    """Runs in a subprocess: whichever `og_devnet._core` PYTHONPATH gives it."""
    from og_devnet import _core

    spec = json.loads(Path(raws_path).read_text())
    raws = [bytes.fromhex(r) for r in spec["raws"]]
    rates, blocks = [], 0
    for _ in range(repeat):
        chain = make_chain(_core)
        assert (chain.chain_id, chain.base_fee) == (spec["chain_id"], spec["base_fee"]), "signed for another genesis"
        t0 = time.perf_counter()
        hashes = submit_all(chain, _core, raws)
        blocks = mine_all(chain)
        rates.append(len(raws) / (time.perf_counter() - t0))
        assert json.loads(chain.receipt_json(hashes[-1]))["status"] == "0x1"
    print(json.dumps({"rate": statistics.median(rates), "blocks": blocks, "core": _core.__file__}))


def build_before(ref: str) -> Path:
    """The core as of `ref`, built once: a site dir holding that commit's og_devnet package."""
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", f"{ref}^{{commit}}"], capture_output=True, text=True, check=True).stdout.strip()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "og-devnet-bench" / sha[:12]
    site = cache / "site"
    if list(site.glob("og_devnet/_core*")):
        return site
    print(f"building og-devnet's core as of {ref} ({sha[:12]}) once into {cache}; a few minutes the first time ...", flush=True)
    src, wheels = cache / "src", cache / "wheels"
    subprocess.run(["rm", "-rf", str(src), str(wheels), str(site)], check=True)
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", sha, "Cargo.toml", "Cargo.lock", "pyproject.toml", "README.md", "rust", "python"],
                             capture_output=True, check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    env = {**os.environ, "CARGO_TARGET_DIR": str(cache / "target")}  # not the repo's target/: another build may be using it
    subprocess.run(["maturin", "build", "--release", "-o", str(wheels), "--interpreter", "python3"], cwd=src, env=env, check=True)
    wheel = max(wheels.glob("*.whl"), key=lambda p: p.stat().st_mtime)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--root-user-action=ignore", "--target", str(site), str(wheel)]
    subprocess.run(pip, check=True)
    return site


def run_worker(raws_path: str, repeat: int, site: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", raws_path, "--repeat", str(repeat)], env=env,
                         capture_output=True, text=True, check=False)  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_plain_transfers(args: argparse.Namespace) -> None:
    from og_devnet import _core

    site = build_before(args.before_ref)
    chain, acct = make_chain(_core), Account.from_key(KEY)
    spec = {"chain_id": chain.chain_id, "base_fee": chain.base_fee}
    spec["raws"] = [sign(acct, chain.chain_id, chain.base_fee, i, to=recipient(i), value=1, gas=21_000).hex() for i in range(args.plain_txs)]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(spec, f)
        f.flush()
        before = run_worker(f.name, args.repeat, site)
        after = run_worker(f.name, args.repeat, None)
    print(f"(b) {args.plain_txs} plain transfers through the core (submit_raw + seal/publish, {after['blocks']} blocks, "
          f"median of {args.repeat}):")  # fmt: skip
    print(f"  before the EVM ({args.before_ref}, {before['core']}): {before['rate']:9.0f} tx/s")
    print(f"  after the EVM (installed, {after['core']}): {after['rate']:9.0f} tx/s")
    print(f"  ratio after / before: {after['rate'] / before['rate']:.2f}  (target >= 0.8)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", type=int, default=2000, help="token transfers per engine")
    ap.add_argument("--plain-txs", type=int, default=5000, help="plain transfers, before and after")
    ap.add_argument("--before-ref", default="b8df3d0", help="the commit whose core is 'before'")
    ap.add_argument("--repeat", type=int, default=3, help="fresh chains per plain-transfer figure (median)")
    ap.add_argument("--worker", metavar="RAWS_JSON", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker_plain(args.worker, args.repeat)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    bench_tokens(args)
    bench_plain_transfers(args)


if __name__ == "__main__":
    main()
