"""The core's typed inference record through its bindings: the `Mode` and `Status` enums (the
only tables of mode numbers, names and statuses Python has) and `InferenceRecord`, which the
store moves on with each settlement step and rolls back on `evm_revert`. The records here are
real ones, mined by an automining devnet; the steps are the ones its blocks took (what
`ChainStore._settle` handed to `apply`), or the same shape with another outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from og_devnet import Devnet
from og_devnet._core import (
    CoreError,
    InferenceRecord,
    InvalidArgument,
    Mode,
    Status,
    aggregate_inferences,
    encode_run_call,
)
from og_devnet.inference.fixedpoint import model_input

X = np.array([[0.25, -1.5, 3.0, 0.125]], dtype=np.float32)
HUB = "0x8383C9bD7462F12Eb996DD02F78234C0421A6FaE"
FINAL = ("settled", "rejected", "slashed", "failed")
CHALLENGER = "0x00000000000000000000000000000000000000cc"


# ---- Mode ----


def test_mode_by_number_and_by_name() -> None:
    assert Mode(2) == Mode.TEE and Mode(2).name == "TEE" and Mode(2).value == 2
    assert Mode("zkml") == 1 and Mode("zkml") == Mode.ZKML
    assert Mode("TEE") == Mode("Tee") == Mode.TEE  # names in any case
    assert int(Mode.OPTIMISTIC) == 3 and Mode.VANILLA.value == 0
    assert str(Mode.OPTIMISTIC) == "OPTIMISTIC"
    assert [m.name for m in Mode.all()] == ["VANILLA", "ZKML", "TEE", "OPTIMISTIC"]
    assert [int(m) for m in Mode.all()] == [0, 1, 2, 3]
    for m in Mode.all():
        assert Mode(int(m)) == m and Mode(m.name) == m and Mode(m.name.lower()) == m
        assert isinstance(m.name, str) and m.name
        assert isinstance(m.verification, str) and m.verification
    assert len({m.verification for m in Mode.all()}) == 4, "each mode says what backs it"


def test_mode_compares_and_hashes_as_its_number() -> None:
    # Plain ints from JSON and the store meet Modes: both ways round, and in dicts and sets.
    assert 2 == Mode.TEE and Mode.TEE == 2 and Mode.TEE != 3 and 3 != Mode.TEE
    assert hash(Mode.ZKML) == hash(1)
    assert {2: "tee"}[Mode.TEE] == "tee" and {Mode.TEE: "tee"}[2] == "tee"
    assert Mode.OPTIMISTIC in {3} and 3 in {Mode.OPTIMISTIC}
    assert [0, 1, 2, 3].index(Mode.TEE) == 2
    assert Mode.TEE != "TEE", "a mode is its number, not its name"
    assert Mode.TEE != None  # compares as False, does not raise
    # On the wire a mode is its number: it indexes like an int.
    assert ["v", "z", "t", "o"][Mode.TEE] == "t"
    assert json.dumps({"mode": int(Mode.TEE), "name": Mode.TEE.name}) == '{"mode": 2, "name": "TEE"}'


def test_modes_by_strength() -> None:
    assert Mode.by_strength() == [Mode.VANILLA, Mode.OPTIMISTIC, Mode.TEE, Mode.ZKML]
    assert [m.name for m in Mode.by_strength()] == ["VANILLA", "OPTIMISTIC", "TEE", "ZKML"]
    assert sorted(int(m) for m in Mode.by_strength()) == [int(m) for m in Mode.all()]


@pytest.mark.parametrize(("bad", "message"), [
    (9, "unknown inference mode 9"),
    (4, "unknown inference mode 4"),
    ("nope", 'unknown inference mode "nope"'),
    ("", "unknown inference mode"),
    (-1, "a mode is a number or a name"),
    (2.0, "a mode is a number or a name"),
    (None, "a mode is a number or a name"),
])  # fmt: skip
def test_bad_modes_raise_invalid_argument(bad: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as e:
        Mode(bad)
    assert isinstance(e.value, CoreError)
    if isinstance(bad, str) or bad in (4, 9):
        # The message says what would have been accepted.
        assert all(m.name in str(e.value) for m in Mode.all()), str(e.value)


# ---- Status ----


def test_status_by_value() -> None:
    assert Status("settled") == Status.SETTLED == "settled"
    assert Status.SETTLED.value == "settled" and str(Status.RESULT_READY) == "result_ready"
    assert "delivered" == Status.DELIVERED and Status.DELIVERED != "settled"
    assert hash(Status.SETTLED) == hash("settled") and {"settled": 1}[Status.SETTLED] == 1
    assert Status.SETTLED != Mode.VANILLA and Status.SETTLED != 0
    values = [s.value for s in Status.all()]
    assert values == ["pending", "result_ready", "failing", "delivered", "challengeable", "disputed", "settled",
                      "rejected", "slashed", "failed", "settling", "partly_rejected"]  # fmt: skip
    for s in Status.all():
        assert Status(s.value) == s


@pytest.mark.parametrize("value", ["settled", "rejected", "slashed", "failed", "partly_rejected"])
def test_final_statuses(value: str) -> None:
    assert Status(value).is_final


@pytest.mark.parametrize("value", ["pending", "result_ready", "failing", "delivered", "challengeable", "disputed", "settling"])
def test_statuses_still_moving(value: str) -> None:
    assert not Status(value).is_final


@pytest.mark.parametrize("bad", ["bogus", "Settled", "", "SETTLED "])
def test_bad_status_raises_invalid_argument(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="unknown inference status") as e:
        Status(bad)
    assert "settled" in str(e.value) and "partly_rejected" in str(e.value), "it lists the statuses"


# ---- InferenceRecord: real records from a devnet ----


def _rpc(node: Devnet, method: str, params: list[Any]) -> Any:
    body = httpx.post(node.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60).json()
    assert "error" not in body, body
    return body["result"]


def _run(node: Devnet, model_id: str, mode: Mode) -> str:
    """A `run` call to the hub, sent as bench/inference_flood.py sends it."""
    numbers, _ = model_input({"input": X})
    data = "0x" + encode_run_call(model_id, int(mode), json.dumps(numbers), "[]").hex()
    sender = _rpc(node, "eth_accounts", [])[0]
    tx: str = _rpc(node, "eth_sendTransaction", [{"from": sender, "to": HUB, "data": data, "gas": hex(500_000)}])
    return tx


def _final(node: Devnet, tx: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record = node.store.inference(tx)
        if record is not None and record["status"] in FINAL:
            return record
        assert time.monotonic() < deadline, f"{tx} stayed {record and record['status']!r}"
        if record is not None:
            _rpc(node, "evm_mine", [])  # later blocks settle it (TEE's check, OPTIMISTIC's window)
        time.sleep(0.05)


@pytest.fixture(scope="module")
def mined() -> Iterator[dict[Mode, dict[str, Any]]]:
    """A settled inference of VANILLA, TEE and OPTIMISTIC, each as the store keeps it: VANILLA
    settles in its own block, TEE in the block after, OPTIMISTIC in the block that closes
    its (two-block) challenge window."""
    with Devnet(mining="auto", challenge_window=2) as node:
        mlp = next(m["id"] for m in node.catalog.list() if m["name"] == "mlp")
        records = {mode: _final(node, _run(node, mlp, mode)) for mode in (Mode.VANILLA, Mode.TEE, Mode.OPTIMISTIC)}
        for record in records.values():
            got = _rpc(node, "og_getInference", [record["tx_hash"]])  # the stored record (OPTIMISTIC adds its bond)
            assert {k: got.get(k) for k in record} == record, got
        yield records


def _step(record: dict[str, Any]) -> dict[str, Any]:
    """The one settlement step a block took for `record` (as `ChainStore._settle` applied it)."""
    (step,) = record["settlement_steps"]
    return dict(step)


def _delivered(record: dict[str, Any]) -> InferenceRecord:
    """`record` as its block left it: every settlement step undone."""
    rec = InferenceRecord.from_json(json.dumps(record))
    rec.revert_to(record["block_number"])
    return rec


def test_record_properties_read_from_json(mined: dict[Mode, dict[str, Any]]) -> None:
    for mode, record in mined.items():
        rec = InferenceRecord.from_json(json.dumps(record))
        assert rec.mode == mode and isinstance(rec.mode, Mode) and rec.mode.name == record["mode_name"]
        assert rec.status == Status.SETTLED and isinstance(rec.status, Status) and rec.status.is_final
        assert rec.id == record["id"] and rec.tx_hash == record["tx_hash"]
        assert rec.t_settled == record["t_settled"] and rec.trust_gap_ms == record["trust_gap_ms"]
        assert record["verification"] == mode.verification
        assert json.loads(rec.to_json()) == record, "a record survives from_json/to_json unchanged"


def test_vanilla_settles_at_inclusion_and_a_revert_keeps_it(mined: dict[Mode, dict[str, Any]]) -> None:
    record = mined[Mode.VANILLA]
    assert "settlement_steps" not in record and record["settlement_block"] == record["block_number"]
    rec = InferenceRecord.from_json(json.dumps(record))
    assert rec.last_step_block is None
    rec.revert_to(record["block_number"])
    assert rec.status == Status.SETTLED and rec.t_settled == record["t_settled"] == record["t_included"]
    assert rec.trust_gap_ms == record["t_included"] - record["t_result"]


def test_tee_settlement_step_applied_and_reverted(mined: dict[Mode, dict[str, Any]]) -> None:
    record = mined[Mode.TEE]
    step = _step(record)
    assert step["mode"] == Mode.TEE and step["outcome"] == "settled" and step["id"] == record["id"]
    assert step["settlement_block"] == record["block_number"] + 1, "TEE settles in the next block"

    rec = _delivered(record)
    assert rec.status == Status.DELIVERED and not rec.status.is_final
    assert rec.t_settled is None and rec.trust_gap_ms is None and rec.last_step_block is None
    delivered = json.loads(rec.to_json())
    for key in ("t_settled", "settlement_block", "trust_gap_ms", "fee_paid", "proof_hash"):
        assert key not in delivered, key
    assert delivered["settlement_steps"] == []
    assert delivered["proof"]["kind"] == "tee" and delivered["proof"]["verified_at_result"]

    rec.apply(json.dumps(step))
    assert rec.status == Status.SETTLED
    assert rec.t_settled == step["t_settled"] and rec.last_step_block == step["settlement_block"]
    assert rec.trust_gap_ms == step["t_settled"] - step["t_result"] == record["t_settled"] - record["t_result"] >= 0
    assert json.loads(rec.to_json()) == record, "the step gives back exactly the record the store keeps"

    rec.revert_to(step["settlement_block"])  # the settling block stays: nothing changes
    assert rec.status == Status.SETTLED and json.loads(rec.to_json()) == record
    rec.revert_to(step["settlement_block"] - 1)
    assert json.loads(rec.to_json()) == delivered


def test_tee_rejection_step(mined: dict[Mode, dict[str, Any]]) -> None:
    record = mined[Mode.TEE]
    step = _step(record) | {"outcome": "rejected", "reason": "attestation expired", "t_settled": record["t_result"] + 250}
    rec = _delivered(record)
    rec.apply(json.dumps(step))
    assert rec.status == Status.REJECTED and rec.status.is_final
    assert rec.t_settled == record["t_result"] + 250 and rec.trust_gap_ms == 250
    out = json.loads(rec.to_json())
    assert out["rejection_reason"] == "attestation expired" and out["fee_paid"] == "0", "a rejected result is not paid"
    assert out["settlement_block"] == step["settlement_block"]
    rec.revert_to(record["block_number"])
    assert rec.status == Status.DELIVERED and rec.t_settled is None and rec.trust_gap_ms is None


def test_optimistic_settles_when_its_window_closes(mined: dict[Mode, dict[str, Any]]) -> None:
    record = mined[Mode.OPTIMISTIC]
    step = _step(record)
    assert step["mode"] == Mode.OPTIMISTIC and step["outcome"] == "settled"
    assert step["settlement_block"] == record["challenge_window_ends"] == record["block_number"] + 2
    assert record["fee_paid"] == step["fee"] != "0"

    rec = _delivered(record)
    assert rec.status == Status.CHALLENGEABLE and rec.t_settled is None
    rec.apply(json.dumps(step))
    assert rec.status == Status.SETTLED and rec.trust_gap_ms == step["t_settled"] - step["t_result"]
    assert json.loads(rec.to_json()) == record


def test_optimistic_dispute_then_slash_and_revert(mined: dict[Mode, dict[str, Any]]) -> None:
    """A challenge in the block after delivery, the referee's verdict in the one after."""
    record = mined[Mode.OPTIMISTIC]
    settled = _step(record)
    b, t = record["block_number"], record["t_result"]
    base = settled | {"fee": "0", "slashed": "0", "reward": "0", "reason": None}
    disputed = base | {"outcome": "disputed", "challenger": CHALLENGER, "t_settled": t + 40, "settlement_block": b + 1}
    slashed = base | {"outcome": "slashed", "reason": "referee disagrees", "challenger": CHALLENGER,
                      "slashed": "1000000000000000000", "slashed_account": settled["node"], "reward": "500000000000000000",
                      "t_settled": t + 90, "settlement_block": b + 2}  # fmt: skip

    rec = _delivered(record)
    rec.apply(json.dumps(disputed))
    assert rec.status == Status.DISPUTED and not rec.status.is_final
    assert rec.t_settled is None and rec.trust_gap_ms is None and rec.last_step_block == b + 1
    out = json.loads(rec.to_json())
    assert (out["t_disputed"], out["dispute_block"], out["challenger"]) == (t + 40, b + 1, CHALLENGER)

    rec.apply(json.dumps(slashed))
    assert rec.status == Status.SLASHED and rec.status.is_final
    assert rec.t_settled == t + 90 and rec.trust_gap_ms == 90 and rec.last_step_block == b + 2
    out = json.loads(rec.to_json())
    assert out["slashed"] == "1000000000000000000" and out["fee_paid"] == "0"
    assert out["rejection_reason"] == "referee disagrees" and out["t_disputed"] == t + 40
    assert [s["outcome"] for s in out["settlement_steps"]] == ["disputed", "slashed"]

    rec.revert_to(b + 1)  # the verdict undone, the challenge kept
    assert rec.status == Status.DISPUTED and rec.t_settled is None and rec.last_step_block == b + 1
    assert "slashed" not in json.loads(rec.to_json())
    rec.revert_to(b)
    out = json.loads(rec.to_json())
    assert rec.status == Status.CHALLENGEABLE and rec.last_step_block is None
    assert "t_disputed" not in out and out["settlement_steps"] == []


def test_penalty_step_leaves_the_status(mined: dict[Mode, dict[str, Any]]) -> None:
    """A losing attempt's node caught lying: noted, the inference itself unaffected."""
    record = mined[Mode.TEE]
    liar = "0x00000000000000000000000000000000000000dd"
    penalty = _step(record) | {"outcome": "penalised", "node": liar, "reason": "wrong output", "slashed": "7"}
    rec = InferenceRecord.from_json(json.dumps(record))
    rec.apply(json.dumps(penalty))
    out = json.loads(rec.to_json())
    assert rec.status == Status.SETTLED and rec.t_settled == record["t_settled"]
    assert out["penalties"] == [{"node": liar, "reason": "wrong output", "slashed": "7"}]


def test_bad_records_and_steps_raise_invalid_argument(mined: dict[Mode, dict[str, Any]]) -> None:
    record = mined[Mode.TEE]
    with pytest.raises(InvalidArgument, match="inference record"):
        InferenceRecord.from_json("{}")
    with pytest.raises(InvalidArgument, match="inference record"):
        InferenceRecord.from_json(json.dumps(record | {"mode": 9}))
    with pytest.raises(InvalidArgument, match="inference record"):
        InferenceRecord.from_json(json.dumps(record | {"status": "bogus"}))
    rec = InferenceRecord.from_json(json.dumps(record))
    for bad in ("{}", json.dumps(_step(record) | {"outcome": "bogus"}), json.dumps(_step(record) | {"mode": 7})):
        with pytest.raises(InvalidArgument, match="settlement step"):
            rec.apply(bad)
    assert json.loads(rec.to_json()) == record, "a refused step changes nothing"


def test_aggregate_inferences(mined: dict[Mode, dict[str, Any]]) -> None:
    tee, opt = mined[Mode.TEE], mined[Mode.OPTIMISTIC]
    tx = "0x" + "ab" * 32
    whole = json.loads(aggregate_inferences(tx, [json.dumps(tee), json.dumps(opt)]))
    assert whole["many"] is True and whole["tx_hash"] == tx and Status(whole["status"]) == Status.SETTLED
    assert whole["calls"] == [tee, opt]
    assert whole["t_settled"] == max(tee["t_settled"], opt["t_settled"])
    assert whole["trust_gap_ms"] == whole["t_settled"] - max(tee["t_result"], opt["t_result"])

    open_opt = _delivered(opt).to_json()
    assert json.loads(aggregate_inferences(tx, [json.dumps(tee), open_opt]))["status"] == Status.SETTLING
    rejected = _delivered(tee)
    rejected.apply(json.dumps(_step(tee) | {"outcome": "rejected", "reason": "bad signature"}))
    partly = json.loads(aggregate_inferences(tx, [rejected.to_json(), json.dumps(opt)]))
    assert partly["status"] == Status.PARTLY_REJECTED and Status(partly["status"]).is_final
    with pytest.raises(InvalidArgument):
        aggregate_inferences(tx, ["{}"])
