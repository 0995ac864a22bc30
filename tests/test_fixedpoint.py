"""The contracts' fixed-point numbers back to arrays: the vectorised path gives the very bits the
exact Decimal quotient rounds to, for every kind of value a request can carry."""

from __future__ import annotations

import random

import numpy as np
import pytest

from og_devnet.inference.fixedpoint import array_from_fixed, from_fixed, to_fixed


def reference(pairs: list[list[str]], dtype: type) -> np.ndarray:
    return np.array([float(from_fixed(v, d)) for v, d in pairs], dtype=dtype)


def pairs_of_every_kind(n: int) -> list[list[str]]:
    rng = random.Random(5)
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.4:  # a float32 the SDK sends
            v, d = to_fixed(np.float32(rng.gauss(0, 10 ** rng.randint(-30, 30))))
        elif kind < 0.7:  # exact float64 operands: the vectorised division
            v, d = rng.randint(-(2**53) + 1, 2**53 - 1), rng.randint(0, 22)
        else:  # up to 27 digits and 30 decimals: parsed one by one
            v, d = rng.randint(-(10 ** rng.randint(1, 27)), 10 ** rng.randint(1, 27)), rng.randint(0, 30)
        out.append([str(v), str(d)])
    return out + [["0", "0"], ["-0", "5"], [str(2**53), "3"], [str(-(2**63)), "0"], [str(2**64), "1"]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_same_bits_as_the_decimal_quotient(dtype: type) -> None:
    pairs = pairs_of_every_kind(30_000)
    got = array_from_fixed(pairs, [len(pairs)], np.dtype(dtype))
    assert got.dtype == dtype
    assert np.array_equal(got.view(np.uint8), reference(pairs, dtype).view(np.uint8))
    exact_only = [p for p in pairs if len(p[0]) < 16 and int(p[1]) <= 22]
    assert np.array_equal(array_from_fixed(exact_only, [len(exact_only)], np.dtype(dtype)).view(np.uint8),
                          reference(exact_only, dtype).view(np.uint8))  # fmt: skip


def test_shapes_integers_and_empty() -> None:
    assert array_from_fixed([["15", "1"], ["-25", "2"]], [1, 2], np.dtype(np.float32)).tolist() == [[1.5, -0.25]]
    assert array_from_fixed([["7", "0"], ["-3", "0"]], [2], np.dtype(np.int64)).tolist() == [7, -3]
    assert array_from_fixed([], [0], np.dtype(np.float32)).shape == (0,)


def decimal_to_fixed(number: object) -> tuple[int, int]:
    """The Decimal reference: the shortest repr, normalised."""
    from decimal import Decimal

    d = Decimal(str(number)).normalize()
    sign, digits, exponent = d.as_tuple()
    value = int("".join(map(str, digits))) * (-1 if sign else 1)
    return (value * 10**exponent, 0) if exponent >= 0 else (value, -exponent)  # type: ignore[operator]


def test_to_fixed_gives_what_the_decimal_reference_gives() -> None:
    rng = random.Random(9)
    numbers: list[object] = [0.0, -0.0, 100.0, 1e20, 1e-20, 5e-324, 1.7976931348623157e308, 0, -7, 10**27, 10**30 + 1,
                             np.float32(0.1), np.float32(-3.4e38), np.float32(1e-45), "+3.25", ".5", "5.", "0e0", "-0e-5"]  # fmt: skip
    for _ in range(50_000):
        k = rng.random()
        numbers.append(np.float32(rng.gauss(0, 10 ** rng.randint(-40, 38))) if k < 0.4 else
                       rng.gauss(0, 10 ** rng.randint(-300, 300)) if k < 0.8 else
                       rng.randint(-(10 ** rng.randint(1, 40)), 10 ** rng.randint(1, 40)))  # fmt: skip
    assert [to_fixed(n) for n in numbers] == [decimal_to_fixed(n) for n in numbers]
    for bad in (float("inf"), float("nan"), "1e", "--1", "1e 5"):
        with pytest.raises(Exception):  # noqa: B017, PT011 - FixedPointError or Decimal's own
            to_fixed(bad)


@pytest.mark.parametrize("dtype", ["float", "double", "float16"])
def test_the_nodes_decoding_in_rust_gives_the_same_bits(dtype: str) -> None:
    """`parse_job` (the core decodes the pairs without the GIL) feeds a model exactly what the
    Python conversion does, for every kind of value; what the core leaves, Python converts."""
    import json

    from og_devnet.inference.runtimes import _ONNX_DTYPES, input_arrays, parse_job

    pairs = pairs_of_every_kind(30_000) + [["5", "-3"], ["007", "1"], ["-00", "30"], [str(-(2**127)), "40"]]
    payload = json.dumps({"kind": "model", "model_id": "m", "mode": 0, "numbers": [
        {"name": "x", "shape": [len(pairs)], "values": pairs},
        {"name": "left", "shape": [2], "values": [["99", "99999999999999999999"], ["-2", "0"]]},  # Python's
        {"name": "n", "shape": [2], "values": [["7", "0"], ["-35", "1"]]},
    ], "strings": []})  # fmt: skip
    job = parse_job(payload)
    assert "values" not in job["numbers"][0] and "values" in job["numbers"][1], "decoded by the core, or left"
    specs = [{"name": "x", "dtype": dtype}, {"name": "n", "dtype": "int64"}]
    feeds = input_arrays(specs, job)
    expected = array_from_fixed(pairs, [len(pairs)], np.dtype(_ONNX_DTYPES[dtype]))
    assert feeds["x"].dtype == expected.dtype and np.array_equal(feeds["x"].view(np.uint8), expected.view(np.uint8))
    assert feeds["n"].tolist() == [7, -3], "an integer input from the exact pairs"
    assert input_arrays([{"name": "left", "dtype": "double"}], job)["left"].tolist() == [0.0, -2.0]
    assert parse_job('{"kind": "chat", "messages": []}') == {"kind": "chat", "messages": []}
