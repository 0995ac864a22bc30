"""Who may talk to the node. Dev keys are unlocked, so a web page the user happens to visit
must not be able to drive it:

- the Host guard refuses names other than loopback names, the address the connection came in
  on and `--allowed-host` names (a DNS-rebinding page reaches us under its own name);
- the Origin guard refuses requests from pages on other origins, unless `--allow-origin` names
  them; for those, CORS is answered properly (preflight, Access-Control-Allow-Origin).

Pure ASGI, so WebSocket handshakes on the same port pass the same checks as HTTP requests.
(JSON-RPC's `Content-Type: application/json` rule is in rpc_route: it is what forces a
preflight on cross-origin calls.)"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import orjson

if TYPE_CHECKING:  # starlette's datastructures (~40 ms) are imported by the guard's first call
    from starlette.datastructures import Headers
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Where the exposure warnings are logged (the CLI prints them itself, styled, and mutes this).
exposure_log = logging.getLogger("og_devnet.exposure")

#: What a preflight may ask for; the node serves nothing else cross-origin.
CORS_METHODS = "GET, POST, OPTIONS"
CORS_DEFAULT_HEADERS = "content-type, accept, last-event-id"
#: Seconds a browser may cache a preflight answer.
CORS_MAX_AGE = "600"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

Origin = tuple[str, str, int]  # scheme, host, port


def host_name(value: str) -> str | None:
    """The name in a Host header ("localhost:8545", "[::1]:8545"), lower case, without port
    or trailing dot; None when malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return name
    name, sep, port = value.partition(":")
    if (sep and not port.isdigit()) or not name:
        return None
    return name.rstrip(".")


def is_loopback(name: str) -> bool:
    """localhost, *.localhost (RFC 6761: always loopback), 127.0.0.0/8, ::1."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def parse_origin(value: str) -> Origin | None:
    """An origin as browsers send it (scheme://host[:port]); None when it is not one
    (including "null", sent by sandboxed frames and file:// pages)."""
    try:
        url = urlsplit(value.strip())
        port = url.port
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.hostname or url.username or url.password:
        return None
    if url.path not in ("", "/") or url.query or url.fragment:
        return None
    return url.scheme, url.hostname.rstrip("."), port or _DEFAULT_PORTS[url.scheme]


@dataclass(frozen=True)
class AccessPolicy:
    #: The address the node was told to listen on (--host).
    bound_host: str
    #: Extra Host names served (--allowed-host); "*" serves every name.
    allowed_hosts: frozenset[str]
    #: Origins allowed cross-origin (--allow-origin).
    allowed_origins: frozenset[Origin]
    any_origin: bool

    @classmethod
    def build(cls, bound_host: str, allowed_hosts: Iterable[str], allow_origins: Iterable[str]) -> AccessPolicy:
        """Raises ValueError for an entry that is not a host name or an origin."""
        hosts = set()
        for h in allowed_hosts:
            name = "*" if h.strip() == "*" else host_name(h)
            if not name:
                raise ValueError(f"--allowed-host {h!r}: expected a host name such as devnet.local")
            hosts.add(name)
        origins, any_origin = set(), False
        for o in allow_origins:
            if o.strip() == "*":
                any_origin = True
                continue
            parsed = parse_origin(o)
            if parsed is None:
                raise ValueError(f"--allow-origin {o!r}: expected an origin such as http://localhost:3000 (scheme, host, port), or *")
            origins.add(parsed)
        bound = bound_host.strip("[]").lower()
        return cls(bound, frozenset(hosts), frozenset(origins), any_origin)

    def host_allowed(self, name: str, local_address: str) -> bool:
        if "*" in self.allowed_hosts or name in self.allowed_hosts:
            return True
        return is_loopback(name) or name == self.bound_host or name == local_address.lower()

    def origin_allowed(self, origin: str, host_header: str | None, local: tuple[str, int]) -> bool:
        if self.any_origin:
            return True
        parsed = parse_origin(origin)
        if parsed is None:
            return False
        if parsed in self.allowed_origins:
            return True
        # The node's own origin: the explorer it serves. Same origin as the request (the
        # page came from the very Host it calls), or another name of this node on its port.
        scheme, name, port = parsed
        if scheme != "http":
            return False
        if host_header is not None and origin.strip().lower().rstrip("/") == f"http://{host_header.strip().lower()}":
            return True
        return port == local[1] and self.host_allowed(name, local[0])


def exposure_warnings(host: str, allow_origins: Iterable[str]) -> list[str]:
    """What a user must be told at start about who can reach the unlocked dev keys."""
    out = []
    if not is_loopback(host.strip("[]").lower()):
        out.append(f"listening on {host}, not a loopback address: the dev accounts' keys are unlocked, "
                   "so anyone who can reach this port can spend them")  # fmt: skip
    if any(o.strip() == "*" for o in allow_origins):
        out.append("--allow-origin *: every web page open in your browser can call this node and spend "
                   "the dev accounts (their keys are unlocked); prefer --allow-origin http://localhost:PORT")  # fmt: skip
    return out


def _json(detail: str) -> bytes:
    return orjson.dumps({"detail": detail})


class AccessGuard:
    """The Host and Origin guards and CORS, in front of everything the node serves."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.datastructures import Headers, MutableHeaders

        headers = Headers(scope=scope)
        local_host, local_port = scope.get("server") or ("", 0)
        local = (str(local_host), int(local_port or 0))
        host = headers.get("host")
        if host is not None:
            name = host_name(host)
            if name is None or not self.policy.host_allowed(name, local[0]):
                shown = host[:100]
                await _refuse(scope, send, 403, f"this devnet does not serve the host name {shown!r} (a guard against DNS "
                              f"rebinding); to serve it, start the node with --allowed-host {(name or shown)[:100]}")  # fmt: skip
                return
        origin = headers.get("origin")
        if origin is None:  # not a browser, or a same-origin GET: nothing to guard
            await self.app(scope, receive, send)
            return
        if not self.policy.origin_allowed(origin, host, local):
            shown = origin[:100]
            await _refuse(scope, send, 403, f"requests from web pages at {shown} are refused (dev keys are unlocked); "
                          f"to let that page call the node, start it with --allow-origin {shown}")  # fmt: skip
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(send, origin, headers)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(send: Send, origin: str, headers: Headers) -> None:
    """The answer to a CORS preflight from an allowed origin."""
    asked = [h.strip() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
    allow_headers = ", ".join(h for h in asked if _TOKEN.fullmatch(h)) or CORS_DEFAULT_HEADERS
    out = [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-methods", CORS_METHODS.encode()),
        (b"access-control-allow-headers", allow_headers.encode("latin-1")),
        (b"access-control-max-age", CORS_MAX_AGE.encode()),
        (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        (b"content-length", b"0"),
    ]
    if headers.get("access-control-request-private-network") == "true":
        # Chromium's Private Network Access: a public page the user allowed calling localhost.
        out.append((b"access-control-allow-private-network", b"true"))
    await send({"type": "http.response.start", "status": 204, "headers": out})
    await send({"type": "http.response.body", "body": b""})


async def _refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting refuses the handshake: the server answers it with 403.
        # (Not the denial-response extension: uvicorn's sans-io WebSocket protocol then logs
        # "returned without completing handshake" as an error for every refusal.)
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = _json(detail)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
