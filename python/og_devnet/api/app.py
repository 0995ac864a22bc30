"""`create_app(node)`: built per node, never at import time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, Response

from og_devnet import __version__
from og_devnet.api import accounts, blocks, events, inferences, models, rpc_route, status, teach, workflows, ws
from og_devnet.api.limits import BodyLimit
from og_devnet.api.security import AccessGuard, AccessPolicy, exposure_log, exposure_warnings
from og_devnet.store.explorer import ExplorerQueries

if TYPE_CHECKING:
    from og_devnet.node import Node


#: The explorer's static files ship inside the package (`web/` at the top of the repository
#: is a link to them), so `pip install .` serves the same explorer as a source checkout.
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


class ExplorerFiles(StaticFiles):
    """Static files, and index.html for any other page path: the explorer is a single-page
    app with real URLs (/block/12, /inference/0x...), so a reload or a shared link works."""

    async def get_response(self, path: str, scope: Any) -> Response:
        try:
            return await super().get_response(path, scope)
        except StarletteHTTPException as e:
            if e.status_code != 404 or path.startswith(("api/", "api")) or "." in path.rsplit("/", 1)[-1]:
                raise
            return FileResponse(WEB_DIR / "index.html")


def create_app(node: Node) -> FastAPI:
    s = node.settings
    # Built first: a bad --allowed-host or --allow-origin stops the start with its reason.
    policy = AccessPolicy.build(s.host, s.allowed_hosts, s.allow_origins)
    for warning in exposure_warnings(s.host, s.allow_origins):
        exposure_log.warning(warning)
    app = FastAPI(title="og-devnet", version=__version__, docs_url="/docs", redoc_url=None)
    app.state.node = node
    app.state.queries = ExplorerQueries(node.store.engine)
    for module in (rpc_route, ws, status, blocks, inferences, models, accounts, events, teach, workflows):
        app.include_router(module.router)
    # Outermost last: who may ask (Host, Origin, CORS) is settled before any body is read.
    # Both are pure ASGI, so the WebSocket endpoint at "/" (api/ws.py) passes the same guards.
    app.add_middleware(BodyLimit)
    app.add_middleware(AccessGuard, policy=policy)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
    def unknown_api(rest: str) -> None:
        raise HTTPException(404, detail=f"no API endpoint /api/{rest} (see /docs)")

    app.mount("/", ExplorerFiles(directory=WEB_DIR, html=True), name="explorer")
    return app
