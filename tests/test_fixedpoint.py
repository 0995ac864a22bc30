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
