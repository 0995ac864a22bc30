"""Keeping a long-running node's resident memory flat under glibc's malloc.

glibc serves allocations above its mmap threshold (128 KiB at first) with their own mappings,
returned to the kernel when freed; but each time such a block is freed it raises the threshold
to that block's size, up to 32 MiB. After a few large JSON bodies and block records, every
later large buffer comes from the thread arenas instead, and the arenas fragment: measured on
`og-devnet up --automine`, free space held in the arenas went from 30 MiB to 108 MiB over
30,000 inferences and RSS rose ~1.3 KiB per inference, with the memory actually in use rising
only ~0.3 KiB. Setting the threshold explicitly turns the adjustment off.

Freed memory inside the arenas still counts in RSS until glibc returns it; `trim_heap`
(malloc_trim, ~2 ms on this node's heap) hands it back, and `og-devnet up` calls it every
`TRIM_EVERY_S` from its otherwise idle main thread.

Only the `og-devnet up` process does this: a process that embeds `Devnet` keeps its own malloc
settings.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

#: mallopt's parameter number for the mmap threshold (malloc.h).
M_MMAP_THRESHOLD = -3
#: glibc's own initial threshold: what it would keep were it not adjusted.
MMAP_THRESHOLD_BYTES = 128 * 1024


#: How often `og-devnet up` trims the heap.
TRIM_EVERY_S = 30.0


def _libc_function(name: str) -> Any:
    """A function of the C library the process runs on (Python is linked against it), or None
    off Linux or where it has no such function."""
    if not sys.platform.startswith("linux"):
        return None
    return getattr(ctypes.CDLL(None), name, None)


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes; False where there is no glibc (macOS,
    musl's mallopt is a no-op that also reports failure) or it refused."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))


def trim_heap() -> bool:
    """Return the free pages inside malloc's arenas to the kernel; True if any were."""
    malloc_trim = _libc_function("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim.argtypes = (ctypes.c_size_t,)
    malloc_trim.restype = ctypes.c_int
    return bool(malloc_trim(0))
