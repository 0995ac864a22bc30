"""`og_quote`: per mode, what an inference costs, how long its result and its settlement
take here, and what guarantees it; and, for a value at risk, the cheapest mode that fits.

The rule: each mode secures results up to a value —
  VANILLA    nothing (no proof: only for results worth nothing to a cheat),
  OPTIMISTIC the bond (a node that lies loses that much of its stake; less if the weakest
             node's stake has fallen below it),
  TEE        `teeAssurance` from genesis (what forging the hardware's attestation is taken to cost),
  ZKML       any value (a proof cannot be forged; soundness rests on the SRS, here development-only).
The recommendation is the cheapest mode the model supports whose bound is at least the value
at risk."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from og_devnet._core import Mode
from og_devnet.config import WEI_PER_OPG

if TYPE_CHECKING:
    from og_devnet.node import Node

#: Keyed by `Mode` (which hashes and compares as its number: a plain int finds it too).
GUARANTEES = {
    Mode.VANILLA: "none: the result is taken on trust (settles at inclusion, unverified)",
    Mode.OPTIMISTIC: "economic: the result is bonded from the node's stake; a watcher re-executes within the "
                     "challenge window and a lie is slashed",
    Mode.TEE: "hardware: an enclave attestation (devnet CA, mock hardware) and a response signature bind the output "
              "to the request and the registered model measurement",
    Mode.ZKML: "cryptographic: a zero-knowledge proof (ezkl) that the registered circuit maps the request's input "
               "to the delivered output",
}  # fmt: skip


def percentiles(values: list[float]) -> dict[str, Any]:
    """p50 and p95 (ms, to 0.1) and the number of samples; None when there are none."""
    if not values:
        return {"p50": None, "p95": None, "samples": 0}
    a = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(a, 50)), 1), "p95": round(float(np.percentile(a, 95)), 1), "samples": len(values)}


def security(mode: Mode | int, economics: dict[str, Any], weakest_stake: int) -> int | None:
    """Value (wei) a mode's guarantee covers; None for unbounded. A lie costs an OPTIMISTIC
    node its bond, or what is left of its stake if that is less."""
    if mode == Mode.VANILLA:
        return 0
    if mode == Mode.OPTIMISTIC:
        return min(int(economics["bond"], 16), weakest_stake)
    if mode == Mode.TEE:
        return int(economics["teeAssurance"], 16)
    return None


def quote(node: Node, model_id: str, value_at_risk: int | None) -> dict[str, Any]:
    info = node.catalog.get(model_id)
    if info is None:
        raise KeyError(model_id)
    economics = json.loads(node.chain.economics_json())
    timings = node.store.settled_timings(model_id)
    weakest_stake = min((int(n["stake"]) for n in node.node_info()), default=0)
    modes = []
    for mode in Mode.by_strength():
        price = node.chain.inference_fee(model_id, int(mode))
        bound = security(mode, economics, weakest_stake)
        samples = [t for t in timings if t["mode"] == mode]
        modes.append({
            "mode": int(mode), "name": mode.name, "supported": mode.name in info["modes"],
            "price": hex(price), "price_opg": str(price / WEI_PER_OPG),
            "latency_ms": percentiles([t["latency_ms"] for t in samples]),
            "trust_gap_ms": percentiles([t["trust_gap_ms"] for t in samples if t["trust_gap_ms"] is not None]),
            "guarantee": GUARANTEES[mode],
            "secures_up_to": None if bound is None else hex(bound),
        })  # fmt: skip
    for m in modes:
        if not m["supported"]:
            m["why_not"] = info.get("zkml") if m["mode"] == Mode.ZKML else "not supported by this model"
    out: dict[str, Any] = {"model_id": model_id, "model_name": info["name"], "currency": "wei", "modes": modes,
                           "rule": __doc__.split("The rule: ", 1)[1].strip()}  # fmt: skip
    if value_at_risk is not None:
        fits = [m for m in modes if m["supported"] and (m["secures_up_to"] is None or int(m["secures_up_to"], 16) >= value_at_risk)]
        best = min(fits, key=lambda m: int(m["price"], 16), default=None)
        out["value_at_risk"] = hex(value_at_risk)
        out["recommendation"] = None if best is None else {
            "mode": best["mode"], "name": best["name"], "price": best["price"],
            "reason": f"the cheapest supported mode whose guarantee covers {value_at_risk / WEI_PER_OPG:g} OPG",
        }  # fmt: skip
        if best is None:
            out["recommendation_note"] = "no supported mode of this model covers that value (enable ZKML for it)"
    return out
