"""The HTTP app: JSON-RPC at POST /, REST under /api, the explorer's static files at /."""

from og_devnet.api.app import create_app

__all__ = ["create_app"]
