"""Bad input must not leave an error or a traceback in the log: neither the node's loggers nor
uvicorn's (which does not propagate to the root logger, so caplog would miss it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

WATCHED = ("og_devnet", "uvicorn", "uvicorn.error", "uvicorn.asgi")


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def no_errors_logged() -> Iterator[None]:
    handler = _Collected()
    loggers = [logging.getLogger(name) for name in WATCHED]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    bad = [r for r in handler.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]
