"""heap.py: glibc's mmap threshold stays fixed, and trimming hands free arena pages back.

Each check runs in a fresh interpreter: malloc settings are process-wide.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")

PRELUDE = """
import ctypes
from og_devnet import heap

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)

class MallInfo(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc.mallinfo2.restype = MallInfo

def mmapped_blocks():
    return libc.mallinfo2().hblks

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
"""


def run(body: str) -> str:
    code = PRELUDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout.strip()


# Free a 4 MiB block (glibc would raise its threshold to 4 MiB), then take 256 KiB: is it
# a mapping of its own (returned to the kernel when freed) or a piece of an arena?
AFTER_A_LARGE_FREE = """
big = libc.malloc(4 << 20)
libc.free(big)
before = mmapped_blocks()
block = libc.malloc(256 << 10)
print(mmapped_blocks() - before)
"""


def test_glibc_left_alone_moves_large_buffers_into_the_arenas() -> None:
    # The behaviour heap.py turns off, seen without it.
    assert run(AFTER_A_LARGE_FREE) == "0"


def test_a_fixed_threshold_keeps_large_buffers_in_their_own_mappings() -> None:
    assert run("assert heap.fix_mmap_threshold()\n" + AFTER_A_LARGE_FREE) == "1"


def test_trimming_returns_free_pages_inside_the_heap() -> None:
    # 64 MiB of 1 KiB chunks, all freed but the last (which pins the heap's top, so glibc
    # cannot shrink the heap from the end by itself): the pages stay resident until trimmed.
    out = run("""
        chunks = [libc.malloc(1024) for _ in range(64 * 1024)]
        for p in chunks:
            ctypes.memset(p, 1, 1024)
        for p in chunks[:-1]:
            libc.free(p)
        held = rss_bytes()
        trimmed = heap.trim_heap()
        print(trimmed, (held - rss_bytes()) >> 20)
    """)
    trimmed, released_mib = out.split()
    assert trimmed == "True"
    assert int(released_mib) >= 48
