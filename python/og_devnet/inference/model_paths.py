"""Registering a model by path is a local operation. Over the network, only regular files under
the directories the operator named at start (`--models-dir`) are read, and a refusal says
nothing about the path: not whether it exists, not what kind of file it is, nothing of its
contents. Paths outside those directories are refused before any system call touches them."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

#: A file that takes longer than this to read is given up (a hung network mount, a pseudo file).
READ_TIMEOUT_S = 60.0
#: Reads by path at once; a read stuck in the kernel holds its slot, never a server thread.
MAX_CONCURRENT_READS = 4
_CHUNK = 1 << 20
_reads = threading.BoundedSemaphore(MAX_CONCURRENT_READS)


class PathRefused(ValueError):
    """The one answer for every path that may not be read: outside the allowed directories,
    missing, unreadable, not a regular file. Deliberately the same words for all of them."""

    def __init__(self, path: str, roots: Sequence[Path]) -> None:
        where = ", ".join(str(r) for r in roots) if roots else "none are set"
        super().__init__(
            f"{shown(path)}: models are registered by path only from regular files under the node's "
            f"--models-dir directories ({where}); send the file's bytes instead "
            '(og-devnet models add FILE, POST /api/models, or og_registerModel {"data": "0x..."})'
        )


def shown(path: str) -> str:
    """A client's path as quoted back in an error: never megabytes of it."""
    return path if len(path) <= 200 else path[:200] + "..."


class FileTooLarge(ValueError):
    pass


class ReadTimeout(ValueError):
    pass


class ModelDirs:
    """The directories models may be read from by path, fixed at start."""

    def __init__(self, dirs: Sequence[Path]) -> None:
        # Both spellings of each directory: as given (made absolute), to check a request
        # lexically, and resolved, to check where the request really leads.
        self.given = [Path(os.path.abspath(d)) for d in dirs]
        self.real = [Path(os.path.realpath(d)) for d in dirs]

    def refusal(self, path: str) -> PathRefused:
        return PathRefused(path, self.given)

    def resolve(self, path: str) -> Path:
        """The real path of a file under one of the directories, or PathRefused.

        A path that does not even name a place under them is refused lexically, without a
        system call on it; one that does is resolved (symlinks, ..) and checked again."""
        refused = self.refusal(path)
        if not self.real or not path or "\0" in path:
            raise refused
        candidate = Path(os.path.normpath(os.path.abspath(os.path.expanduser(path))))
        if not any(_under(candidate, d) for d in (*self.given, *self.real)):
            raise refused
        real = Path(os.path.realpath(candidate))
        if not any(_under(real, d) for d in self.real):
            raise refused
        return real


def _under(path: Path, directory: Path) -> bool:
    return path != directory and path.is_relative_to(directory)


def copy_regular_file(path: Path, refusal: PathRefused, dest: BinaryIO, cap: int) -> int:
    """Copies the regular file at `path` into `dest`, at most `cap` bytes, within
    READ_TIMEOUT_S. Returns the bytes copied. Anything that is not a plain readable file is
    `refusal`; nothing about the file goes into an error but its size against the cap."""
    if not _reads.acquire(timeout=1.0):
        raise ReadTimeout("other registrations by path are still reading their files; try again later")
    outcome: list[BaseException | int] = []

    def work() -> None:
        try:
            outcome.append(_copy(path, refusal, dest, cap, time.monotonic() + READ_TIMEOUT_S))
        except BaseException as e:  # noqa: BLE001 - handed to the waiting caller
            outcome.append(e)
        finally:
            _reads.release()

    # The read runs on a thread of its own: if the kernel never returns from read(), only
    # this thread (and its slot) is lost, not a worker the HTTP server needs.
    reader = threading.Thread(target=work, name="og-devnet-model-read", daemon=True)
    reader.start()
    reader.join(READ_TIMEOUT_S + 5)
    if not outcome:
        raise ReadTimeout(f"reading the file took longer than {READ_TIMEOUT_S:g} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _copy(path: Path, refusal: PathRefused, dest: BinaryIO, cap: int, deadline: float) -> int:
    # O_NOFOLLOW: the path was resolved, so a symlink now is a swap under our feet.
    # O_NONBLOCK: opening a FIFO must not wait for a writer, and pseudo files that would block
    # (/proc/kmsg) answer EAGAIN instead.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        raise refusal from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refusal
        if st.st_size > cap:
            raise FileTooLarge(f"the file is {st.st_size} bytes, over the limit of {cap}")
        total = 0
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except BlockingIOError:
                raise refusal from None
            except OSError:
                raise refusal from None
            if not chunk:
                return total
            total += len(chunk)
            if total > cap:
                raise FileTooLarge(f"the file is over the limit of {cap} bytes")
            if time.monotonic() > deadline:
                raise ReadTimeout(f"reading the file took longer than {READ_TIMEOUT_S:g} s")
            dest.write(chunk)
    finally:
        os.close(fd)
