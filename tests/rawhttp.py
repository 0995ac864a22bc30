"""HTTP/1.1 over a plain socket, for what ordinary clients will not send: a body that keeps
coming after the server has answered, a Content-Length far bigger than what follows, any Host
header. The sender stops as soon as the server answers (or closes), and says how much of the
body it managed to send."""

from __future__ import annotations

import errno
import json
import select
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Body bytes the server took before it answered.
    sent: int

    def json(self) -> Any:
        return json.loads(self.body)


def chunked(pieces: Iterable[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    """Transfer-Encoding: chunked framing, without copying the pieces."""
    for piece in pieces:
        yield b"%x\r\n" % len(piece)
        yield piece
        yield b"\r\n"
    yield b"0\r\n\r\n"


def repeat(block: bytes, total: int) -> Iterator[memoryview]:
    """`total` bytes made of one reused block: memory stays flat however much is sent."""
    view = memoryview(block)
    while total > 0:
        n = min(total, len(view))
        yield view[:n]
        total -= n


def request(port: int, method: str, path: str, headers: dict[str, str], body: Iterable[bytes | memoryview] = (),
            timeout: float = 60) -> RawResponse:  # fmt: skip
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    body_iter = iter(body)
    pending: memoryview | None = memoryview(head.encode("latin-1"))
    head_left = len(pending)
    sent = 0
    got = bytearray()
    sending = True
    try:
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], max(0.0, deadline - time.monotonic()))
            if readable:
                try:
                    data = sock.recv(1 << 16)
                except ConnectionResetError:
                    data = b""
                if not data:
                    break
                got += data
                sending = False  # the server has answered: stop sending
                if _complete(got):
                    break
                continue
            if writable and sending:
                if pending is None or len(pending) == 0:
                    nxt = next(body_iter, None)
                    if nxt is None:
                        sending = False
                        continue
                    pending = memoryview(nxt)
                try:
                    n = sock.send(pending)
                except BlockingIOError:
                    continue
                except OSError as e:
                    if e.errno in (errno.EPIPE, errno.ECONNRESET):
                        sending = False
                        continue
                    raise
                pending = pending[n:]
                if head_left > 0:
                    used = min(n, head_left)
                    head_left -= used
                    sent += n - used
                else:
                    sent += n
    finally:
        sock.close()
    return _parse(bytes(got), sent)


def _complete(data: bytearray) -> bool:
    head, sep, body = bytes(data).partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _parse(data: bytes, sent: int) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        raise AssertionError(f"no HTTP response (got {data[:200]!r})")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(lines[0].split()[1]), headers, body, sent)
