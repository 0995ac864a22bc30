"""og-devnet: a local devnet for verifiable AI inference in the style of OpenGradient.

`Devnet`, `Node` and `Settings` are imported on first use (module `__getattr__`): a client
command (`og-devnet infer`, `status`, ...) and `import og_devnet` do not pay for the node, the
store or the model runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from og_devnet.config import Settings
    from og_devnet.devnet import Devnet
    from og_devnet.node import Node

#: The hub's ABI: the SDK's `inference.abi` plus the devnet extension
#: `runMany((string,uint8,ModelInput)[])`.
HUB_ABI = Path(__file__).parent / "abi" / "InferenceHub.devnet.abi"

__all__ = ["HUB_ABI", "Devnet", "Node", "Settings", "__version__"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("og-devnet")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name == "Devnet":
        from og_devnet.devnet import Devnet as value
    elif name == "Node":
        from og_devnet.node import Node as value
    elif name == "Settings":
        from og_devnet.config import Settings as value
    else:
        raise AttributeError(f"module 'og_devnet' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
