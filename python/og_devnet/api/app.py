"""`create_app(node)`: built per node, never at import time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from og_devnet import __version__
from og_devnet.api import inferences, models, rpc_route, status

if TYPE_CHECKING:
    from og_devnet.node import Node


#: The explorer's static files ship inside the package (`web/` at the top of the repository
#: is a link to them), so `pip install .` serves the same explorer as a source checkout.
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def create_app(node: Node) -> FastAPI:
    app = FastAPI(title="og-devnet", version=__version__, docs_url="/docs", redoc_url=None)
    app.state.node = node
    app.include_router(rpc_route.router)
    app.include_router(status.router)
    app.include_router(models.router)
    app.include_router(inferences.router)
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="explorer")
    return app
