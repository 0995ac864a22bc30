"""Signed transfers through the Rust core, against coincurve's recovery and a Python reference.

The same N signed EIP-1559 value transfers (default 20,000, round-robin over the 10 dev
accounts, sequential nonces; signed at setup with coincurve) go through, in one run:

- core, single: `og_devnet._core.Chain` called as the node calls it: `submit_raw(raw)` per
  transaction (decode, recover the sender, fee/gas/nonce/balance checks, pool), then every
  `--block` transactions `seal_block` + `publish` (the EVM runs each transfer; receipts,
  state root and the block's record JSON are made). A fresh chain per run.
- core, batch: the same with `submit_raw_batch(raws)` per `--batch` transactions (what a
  JSON-RPC batch of raw transactions becomes): one call, GIL released, senders recovered in
  parallel before the chain lock is taken, then admitted in order under one lock.
- coincurve: `PublicKey.from_signature_and_message` + keccak of the key (the sender address)
  per transaction, on one core, signing hashes precomputed: recovery alone, nothing else
  (keccak by `_core.keccak256`, ~0.5 us, so the baseline is coincurve's libsecp256k1 call).
- Python reference: eth-account's `Account.recover_transaction` (decode + recover, coincurve
  underneath) and dicts for nonces and balances, no blocks (on `--python-count` transactions).

Prints tx/s for each and core / coincurve; checks after each core run that every transfer was
mined (each sender's nonce and balance), so the figures are real.

    python bench/core_throughput.py [--count 20000] [--batch 100] [--block 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import coincurve
import rlp
from eth_account import Account

from og_devnet._core import Chain, keccak256
from og_devnet.config import DEFAULT_CHAIN_ID, DEFAULT_MNEMONIC

TO = bytes.fromhex("00000000000000000000000000000000000000aa")
MAX_FEE = 100 * 10**9
TIP = 10**9
GAS = 21_000
BALANCE = 10_000 * 10**18
CONFIG = {"chain_id": DEFAULT_CHAIN_ID, "mnemonic": DEFAULT_MNEMONIC, "accounts": 10, "balance": BALANCE,
          "base_fee": 10**9, "gas_limit": 30_000_000, "base_fee_change": True}  # fmt: skip


def sign_transfers(keys: list[str], count: int) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    """(raw transactions, [(65-byte signature, signing hash)]), round-robin over `keys`."""
    privs = [coincurve.PrivateKey(bytes.fromhex(k.removeprefix("0x"))) for k in keys]
    raws, sigs = [], []
    for i in range(count):
        nonce, priv = divmod(i, len(privs))[0], privs[i % len(privs)]
        fields = [DEFAULT_CHAIN_ID, nonce, TIP, MAX_FEE, GAS, TO, i + 1, b"", []]
        digest = keccak256(b"\x02" + rlp.encode(fields))
        sig = priv.sign_recoverable(digest, hasher=None)
        r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        raws.append(b"\x02" + rlp.encode([*fields, v, r, s]))
        sigs.append((sig, digest))
    return raws, sigs


def expected_state(addresses: list[str], count: int) -> dict[str, tuple[int, int]]:
    """Each sender's (nonce, balance) once every transfer is mined, at the tips paid (base fee
    changes with each block, so balances are checked as at most the start minus values)."""
    out = {}
    for j, a in enumerate(addresses):
        mine = range(j, count, len(addresses))
        out[a] = (len(mine), BALANCE - sum(i + 1 for i in mine))
    return out


def run_core(raws: list[bytes], addresses: list[str], block: int, batch: int | None) -> tuple[float, float]:
    """tx/s through the core and the share of the time spent sealing."""
    chain = Chain(CONFIG)
    sealed = 0.0
    t0 = time.perf_counter()
    for start in range(0, len(raws), block):
        chunk = raws[start : start + block]
        if batch is None:
            for raw in chunk:
                chain.submit_raw(raw)
        else:
            for b in range(0, len(chunk), batch):
                for r in chain.submit_raw_batch(chunk[b : b + batch]):
                    if not isinstance(r, str):
                        raise r
        s0 = time.perf_counter()
        while chain.pool_counts() != (0, 0):
            chain.publish(chain.seal_block(int(time.time() * 1000)).number)
        sealed += time.perf_counter() - s0
    elapsed = time.perf_counter() - t0
    for a, (nonce, most) in expected_state(addresses, len(raws)).items():
        got = chain.nonce(a, "latest"), chain.balance(a, "latest")
        assert got[0] == nonce and got[1] <= most and got[1] >= most - nonce * GAS * MAX_FEE, (a, got, nonce, most)
    return len(raws) / elapsed, sealed / elapsed


def run_coincurve(sigs: list[tuple[bytes, bytes]], addresses: list[str]) -> float:
    from_sig = coincurve.PublicKey.from_signature_and_message
    t0 = time.perf_counter()
    senders = [keccak256(from_sig(sig, digest, hasher=None).format(compressed=False)[1:])[12:] for sig, digest in sigs]
    elapsed = time.perf_counter() - t0
    n = len(addresses)
    assert all(s == bytes.fromhex(addresses[i % n][2:]) for i, s in enumerate(senders[:n]))
    return len(sigs) / elapsed


def run_python(raws: list[bytes], addresses: list[str]) -> float:
    """eth-account recovery + dicts: the checks a pool makes, without blocks."""
    nonces = dict.fromkeys(addresses, 0)
    balances = dict.fromkeys(addresses, BALANCE)
    base_fee = CONFIG["base_fee"]
    t0 = time.perf_counter()
    for raw in raws:
        sender = Account.recover_transaction(raw)
        tx = rlp.decode(raw[1:])
        nonce, max_fee, gas, value = (int.from_bytes(tx[k], "big") for k in (1, 3, 4, 6))
        if max_fee < base_fee or nonce != nonces[sender]:
            raise ValueError(sender)
        cost = gas * max_fee + value
        if cost > balances[sender]:
            raise ValueError(sender)
        balances[sender] -= value + gas * base_fee
        nonces[sender] += 1
    return len(raws) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=100, help="transactions per submit_raw_batch call")
    ap.add_argument("--block", type=int, default=1000, help="transactions submitted between two seals")
    ap.add_argument("--python-count", type=int, default=4000, help="transactions through the Python reference")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best is printed")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"coincurve {coincurve.__version__ if hasattr(coincurve, '__version__') else ''}".rstrip(", "))  # fmt: skip

    accounts = Chain(CONFIG).dev_accounts()
    addresses = [a for a, _ in accounts]
    t0 = time.perf_counter()
    raws, sigs = sign_transfers([k for _, k in accounts], args.count)
    print(f"signed {len(raws)} EIP-1559 transfers from {len(addresses)} accounts in {time.perf_counter() - t0:.1f} s")

    has_batch = hasattr(Chain, "submit_raw_batch")
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):
        for name, batch in [("core, submit_raw", None), (f"core, submit_raw_batch({args.batch})", args.batch)]:
            if batch is not None and not has_batch:
                continue
            rate, seal_share = run_core(raws, addresses, args.block, batch)
            if rate > best.get(name, (0.0, 0.0))[0]:
                best[name] = (rate, seal_share)
    cc = max(run_coincurve(sigs, addresses) for _ in range(args.repeat))
    py = run_python(raws[: args.python_count], addresses)

    print(f"load average {os.getloadavg()[0]:.2f} at the end (other processes may share the CPU)")
    print(f"{args.count} transfers, decode -> recover -> pool -> seal every {args.block} (best of {args.repeat}):")
    for name, (rate, seal_share) in best.items():
        print(f"  {name:<32} {rate:9.0f} tx/s  ({seal_share * 100:.0f} % of the time sealing)"
              f"  = {rate / cc:.2f} x coincurve")  # fmt: skip
    print(f"  {'coincurve recovery alone, 1 core':<32} {cc:9.0f} tx/s")
    print(f"  {'Python reference (eth-account)':<32} {py:9.0f} tx/s  (on {min(args.python_count, args.count)})")
    core = max(r for r, _ in best.values())
    print(f"best core / coincurve = {core / cc:.2f} (target >= 0.6, stretch >= 1); core / Python = {core / py:.1f}")


if __name__ == "__main__":
    main()
