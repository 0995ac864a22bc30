"""`LlmGateway`: one HTTPS server on 127.0.0.1 (its own port, certificate and signing key),
registered in the TEE registry as type 0 (LLM proxy) so `og.LLM` can pick it."""

from __future__ import annotations

import hashlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from og_devnet._core import keccak256
from og_devnet.llm.identity import GatewayIdentity

if TYPE_CHECKING:
    from og_devnet.llm.payment import Payments
    from og_devnet.inference.catalog import ModelCatalog
    from og_devnet.inference.nodes import Fault

log = logging.getLogger("og_devnet.llm")

#: TEE registry types (opengradient.client.tee_registry): 0 is what og.LLM looks for.
TEE_TYPE_LLM_PROXY = 0
TEE_TYPE_VALIDATOR = 1
#: What a gateway "runs" (mock hardware: no enclave measures it); its pcrHash commits to this.
GATEWAY_IMAGE = b"og-devnet LLM gateway image v1 (mock hardware)"
GATEWAY_SOFTWARE = b"og-devnet LLM gateway v1"
HOST = "127.0.0.1"


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(256)
    sock.setblocking(False)
    return sock


class LlmGateway:
    def __init__(self, index: int, identity: GatewayIdentity, catalog: ModelCatalog, owner: str,
                 fault: Callable[[], Fault | None] | None = None, node_index: int | None = None) -> None:  # fmt: skip
        self.index = index
        self.identity = identity
        self.catalog = catalog
        #: The registry's owner and paymentAddress (the core sets paymentAddress = owner).
        self.owner = owner
        #: The fault of the node that runs this gateway, read at each request (it changes at
        #: run time); None: always healthy.
        self.fault: Callable[[], Fault | None] = fault or (lambda: None)
        self.node_index = index if node_index is None else node_index
        self.rng = random.Random(index)  # a flaky node's odds, reproducible as the nodes' are
        #: SDK model name (or "*") → the local model that answers it (--llm-model).
        self.model_choices: dict[str, str] = {}
        #: Hands a signed answer's record to the chain (`Chain.submit_llm_inference`): its
        #: id and settling transaction. None: answers are not recorded (a gateway on its own).
        self.submit_record: Callable[[str], tuple[str, str | None]] | None = None
        #: x402 payment (og_devnet.llm.payment); None: answers are free (--llm-free).
        self.payments: Payments | None = None
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def open(cls, index: int, directory: Path, catalog: ModelCatalog, owner: str,
             fault: Callable[[], Fault | None] | None = None, node_index: int | None = None) -> LlmGateway:  # fmt: skip
        identity = GatewayIdentity.load_or_create(directory, f"llm-gateway-{index}")
        return cls(index, identity, catalog, owner, fault, node_index)

    @property
    def endpoint(self) -> str:
        """As the registry holds it: og.LLM appends /v1/chat/completions (no trailing slash)."""
        return f"https://{HOST}:{self.port}"

    def start(self) -> None:
        from og_devnet.llm.app import create_app

        saved = self.identity.saved_port()
        try:
            sock = _bind(saved)
        except OSError as e:
            if not saved:
                raise
            log.warning("LLM gateway %d: port %d is taken (%s); using another", self.index, saved, e.strerror)
            sock = _bind(0)
        config = uvicorn.Config(
            create_app(self), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2,
            ssl_keyfile=str(self.identity.key_file), ssl_certfile=str(self.identity.cert_file),
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"og-devnet-llm-gateway-{self.index}", daemon=True)  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"LLM gateway {self.index} did not start")
            time.sleep(0.005)
        self.port = sock.getsockname()[1]
        self.identity.save_port(self.port)

    def request_stop(self) -> None:
        """Asks the server to stop (it notices within ~0.1 s); `stop` also waits for it."""
        if self._server is not None:
            self._server.should_exit = True

    def stop(self) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def registry_record(self, registered_at_ms: int) -> dict[str, Any]:
        """The JSON `Chain.register_enclave` takes (tee_type 0: og.LLM's LLM proxy)."""
        pcr_hash = keccak256(hashlib.sha384(GATEWAY_IMAGE).digest() + hashlib.sha384(GATEWAY_SOFTWARE).digest())
        return {"owner": self.owner, "endpoint": self.endpoint, "public_key": "0x" + self.identity.public_key_der.hex(),
                "certificate": "0x" + self.identity.certificate_der.hex(), "pcr_hash": "0x" + pcr_hash.hex(),
                "tee_type": TEE_TYPE_LLM_PROXY, "registered_at_ms": registered_at_ms}  # fmt: skip

    def info(self) -> dict[str, Any]:
        return {"index": self.index, "endpoint": self.endpoint, "tee_id": self.identity.tee_id, "owner": self.owner}
