"""Signed transfers per second through web3.py: og-devnet against eth-tester, in one run.

Each transfer is what a web3.py user writes: `send_raw_transaction` then
`wait_for_transaction_receipt`, on one kept-alive HTTP connection, the devnet automining (a
block per transaction, committed to SQLite before the receipt is served). The baseline is
eth-tester's in-process `EthereumTesterProvider` (py-evm, no HTTP, no disk), measured with the
same loop in the same process. Prints both rates and og-devnet / eth-tester.

Also measures one kept-alive `eth_blockNumber` round trip, through web3.py and through a bare
`http.client` connection (the cost Nagle's algorithm used to add: ~44 ms per call before
TCP_NODELAY). web3.py's own cost per call (requests, middlewares, formatters) is the difference;
two calls per transfer make the client-side limit: no HTTP node can serve web3.py transfers
faster than 1 / (2 x web3.py's round trip of a call the node answers in microseconds).

    python bench/web3_transfers.py [--txs 1000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import statistics
import time

from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from og_devnet import Devnet

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
TO = "0x00000000000000000000000000000000000000AA"


def signed_transfers(w3: Web3, acct: Account, n: int) -> list[bytes]:
    chain_id = w3.eth.chain_id
    nonce = w3.eth.get_transaction_count(acct.address)
    fee = w3.eth.get_block("latest")["baseFeePerGas"] * 4 + 10**9
    return [
        acct.sign_transaction({"to": TO, "value": 1, "gas": 21000, "maxFeePerGas": fee, "maxPriorityFeePerGas": 10**9,
                               "nonce": nonce + i, "chainId": chain_id}).raw_transaction
        for i in range(n)
    ]  # fmt: skip


def transfers_per_second(w3: Web3, raws: list[bytes]) -> float:
    t0 = time.perf_counter()
    for raw in raws:
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw), timeout=30, poll_latency=0.001)
        assert receipt["status"] == 1
    return len(raws) / (time.perf_counter() - t0)


def round_trip_ms(call: object, n: int = 500) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples[n // 10 :])


def bare_round_trip_ms(port: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'

    def call() -> None:
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        conn.getresponse().read()

    try:
        return round_trip_ms(call)
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--txs", type=int, default=1000)
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")

    tester = Web3(EthereumTesterProvider())
    tester_acct = Account.from_key(KEY)
    # eth-tester's first account holds the funds; give our key some.
    tester.eth.send_transaction({"from": tester.eth.accounts[0], "to": tester_acct.address, "value": 10**21})
    tester_rate = transfers_per_second(tester, signed_transfers(tester, tester_acct, args.txs))

    with Devnet(mining="auto", fixtures=False, zkml=False) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))  # a requests.Session: one kept-alive connection
        acct = Account.from_key(KEY)
        rtt = round_trip_ms(lambda: w3.eth.block_number)
        bare = bare_round_trip_ms(node.port)
        raws = signed_transfers(w3, acct, args.txs + 50)
        transfers_per_second(w3, raws[:50])  # warm-up: connection, caches
        devnet_rate = transfers_per_second(w3, raws[50:])

    limit = 1000 / (2 * rtt)
    print(f"kept-alive eth_blockNumber round trip: {rtt:.2f} ms through web3.py, {bare:.2f} ms through http.client")
    print(f"client-side limit (2 web3.py calls per transfer, no server time): {limit:.0f} transfers/s "
          f"= {limit / tester_rate:.2f} x eth-tester")
    print(f"{args.txs} signed transfers, send_raw_transaction + wait_for_transaction_receipt, automine:")
    print(f"  og-devnet (HTTP keep-alive, SQLite commit per block): {devnet_rate:8.1f} transfers/s")
    print(f"  eth-tester EthereumTesterProvider (py-evm, in-process): {tester_rate:8.1f} transfers/s")
    print(f"  ratio og-devnet / eth-tester: {devnet_rate / tester_rate:.2f}  (target >= 2); "
          f"og-devnet / client-side limit: {devnet_rate / limit:.2f}")


if __name__ == "__main__":
    main()
