"""`create_app(node)`: built per node, never at import time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from og_devnet import __version__
from og_devnet.api import rpc_route, status

if TYPE_CHECKING:
    from og_devnet.node import Node


def web_dir() -> Path:
    """The explorer's files: inside the installed package, or `web/` of a source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "web"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "web"


def create_app(node: Node) -> FastAPI:
    app = FastAPI(title="og-devnet", version=__version__, docs_url="/docs", redoc_url=None)
    app.state.node = node
    app.include_router(rpc_route.router)
    app.include_router(status.router)
    app.mount("/", StaticFiles(directory=web_dir(), html=True), name="explorer")
    return app
