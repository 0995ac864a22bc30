"""One inference called from a contract vs the same inference through the hub, end to end.

One in-process devnet (automine, 4 healthy nodes, the fixture MLP on onnxruntime). The same
ModelInput is sent, alternately, as
  - hub:      a transaction to the inference hub's `run` (PIPE races it on arrival), and
  - contract: a transaction to a Vyper contract whose `forward` calls `runModelInference` at
              0x…F4 inside its own transaction (PIPE pre-execution: simulated on arrival, the
              recorded call races, then the transaction executes for real with the result).
Latency is from `eth_sendRawTransaction` to the receipt being served (polled every 1 ms on one
kept-alive connection). Prints p50/p99 of both and the contract/hub ratio (target ≤ 1.5).

    python bench/contract_inference.py [--n 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import httpx
import numpy as np
import vyper
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from og_devnet import Devnet
from og_devnet._core import encode_run_call
from og_devnet.inference.fixedpoint import model_input

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
FORWARDER = """
# pragma version ~=0.4.3
last_size: public(uint256)

@external
def forward(request: Bytes[8192]):
    out: Bytes[8192] = raw_call(0x00000000000000000000000000000000000000F4, request, max_outsize=8192)
    self.last_size = len(out)
"""
NUMBER = "(int128,int128)"
MODEL_INPUT = f"((string,{NUMBER}[],uint32[])[],(string,string[])[])"


class Client:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        self.acct = Account.from_key(KEY)
        self.chain_id = int(self.rpc("eth_chainId", []), 16)
        self.nonce = int(self.rpc("eth_getTransactionCount", [self.acct.address, "pending"]), 16)

    def rpc(self, method: str, params: list) -> object:
        reply = self.http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def send(self, to: str | None, data: bytes, gas: int) -> tuple[str, float]:
        fee = 50 * 10**9
        tx = {"data": data, "gas": gas, "maxFeePerGas": fee, "maxPriorityFeePerGas": 10**9,
              "nonce": self.nonce, "chainId": self.chain_id, "value": 0}  # fmt: skip
        if to is not None:
            tx["to"] = to
        raw = self.acct.sign_transaction(tx).raw_transaction
        self.nonce += 1
        t0 = time.perf_counter()
        tx_hash = self.rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
        while (receipt := self.rpc("eth_getTransactionReceipt", [tx_hash])) is None:
            time.sleep(0.001)
        elapsed = time.perf_counter() - t0
        assert receipt["status"] == "0x1", receipt  # type: ignore[index]
        return receipt, elapsed  # type: ignore[return-value]


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    compiled = vyper.compile_code(FORWARDER, output_formats=["bytecode"])
    with Devnet(mining="auto") as node:
        mlp = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
        client = Client(node.rpc_url)
        receipt, _ = client.send(None, bytes.fromhex(compiled["bytecode"][2:]), 1_000_000)
        forwarder = to_checksum_address(receipt["contractAddress"])  # type: ignore[index]
        numbers, _ = model_input({"input": np.array([[0.5, -1.0, 2.0, 0.25]], dtype=np.float32)})
        hub_data = encode_run_call(mlp, 0, json.dumps(numbers), "[]")
        tensors = [(t["name"], [(int(v), int(d)) for v, d in t["values"]], t["shape"]) for t in numbers]
        request = function_signature_to_4byte_selector(f"runModelInference((uint8,string,{MODEL_INPUT}))") + encode(
            [f"(uint8,string,{MODEL_INPUT})"], [(0, mlp, (tensors, []))]
        )
        forward_data = function_signature_to_4byte_selector("forward(bytes)") + encode(["bytes"], [request])
        hub, contract = [], []
        for i in range(args.n + 5):  # the first 5 of each warm up
            _, t_hub = client.send(HUB, hub_data, 500_000)
            receipt, t_contract = client.send(forwarder, forward_data, 1_000_000)
            if i == 0:
                logs = receipt["logs"]  # type: ignore[index]
                assert logs and logs[0]["address"].lower() == "0x00000000000000000000000000000000000000f4", logs
            if i >= 5:
                hub.append(t_hub)
                contract.append(t_contract)
    print(f"{args.n} inferences each, automine, 4 nodes, fixture MLP (onnxruntime)")
    print(f"hub run:            p50 {pct(hub, 50):7.2f} ms   p99 {pct(hub, 99):7.2f} ms")
    print(f"contract via 0xF4:  p50 {pct(contract, 50):7.2f} ms   p99 {pct(contract, 99):7.2f} ms")
    print(f"ratio contract/hub: p50 {pct(contract, 50) / pct(hub, 50):.2f}x   p99 {pct(contract, 99) / pct(hub, 99):.2f}x   (target <= 1.5x)")


if __name__ == "__main__":
    main()
