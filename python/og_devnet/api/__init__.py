"""The HTTP app: JSON-RPC at POST /, REST under /api, the explorer's static files at /.

`create_app` is imported on first use: the node answers its first JSON-RPC calls through
`og_devnet.api.front` while FastAPI is still being imported and the app built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from og_devnet.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from og_devnet.api.app import create_app

        return create_app
    raise AttributeError(f"module 'og_devnet.api' has no attribute {name!r}")
