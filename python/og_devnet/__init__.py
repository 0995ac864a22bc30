"""og-devnet: a local devnet for verifiable AI inference in the style of OpenGradient."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("og-devnet")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

from pathlib import Path  # noqa: E402

from og_devnet.config import Settings  # noqa: E402
from og_devnet.node import Node  # noqa: E402



class Devnet(Node):
    """A node for downstream test suites: a free loopback port unless one is given.

    with Devnet() as net:
        w3 = Web3(Web3.HTTPProvider(net.rpc_url))
    """

    def __init__(self, settings: Settings | None = None, **overrides: object) -> None:
        if settings is None:
            overrides.setdefault("port", 0)
        super().__init__(settings, **overrides)


#: The hub's ABI: the SDK's `inference.abi` plus the devnet extension
#: `runMany((string,uint8,ModelInput)[])`.
HUB_ABI = Path(__file__).parent / "abi" / "InferenceHub.devnet.abi"

__all__ = ["HUB_ABI", "Devnet", "Node", "Settings", "__version__"]
