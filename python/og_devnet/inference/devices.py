"""Which device each model runtime uses: `--device auto|cpu|cuda[:N]`.

The start-up check reads only the NVIDIA driver's files (/proc/driver/nvidia): importing torch
to ask it would cost seconds and `og-devnet up` never imports torch unless a torch model is
registered. Each runtime then confirms with its own library when it loads a model (torch sees
CUDA, onnxruntime has its CUDA provider, llama.cpp was built with GPU offload) and falls back to
the CPU with the reason when it cannot, which `og_nodes`, the banner and the explorer show.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

_DEVICE = re.compile(r"^(auto|cpu|cuda(?::(\d{1,2}))?)$")
#: Where the NVIDIA driver lists its GPUs, one directory each.
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


class DeviceError(ValueError):
    """A device that cannot be used here (the node refuses to start)."""


def parse_device(text: str) -> str:
    """The device setting, normalised (cuda → cuda:0); ValueError for anything else."""
    m = _DEVICE.match(text.strip().lower())
    if m is None:
        raise ValueError(f"unknown device {text!r}: use auto, cpu, cuda or cuda:N")
    if m.group(1).startswith("cuda"):
        return f"cuda:{int(m.group(2) or 0)}"
    return m.group(1)


def cuda_devices(gpus: Path = NVIDIA_GPUS) -> int:
    """How many GPUs the NVIDIA driver lists (0 without the driver)."""
    try:
        return sum(1 for _ in gpus.iterdir())
    except OSError:
        return 0


@dataclass
class Devices:
    """The device asked for, resolved against this machine, and what each runtime ended up
    using (filled in as runtimes load)."""

    requested: str = "auto"
    #: "cuda:N" or "cpu": what runtimes try first.
    target: str = "cpu"
    #: Why the target is the CPU when auto found no GPU (None otherwise).
    reason: str | None = None
    #: Runtime kind → (device, why it is not the target, or None).
    used: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def resolve(cls, requested: str, gpus: Path = NVIDIA_GPUS) -> Devices:
        device = parse_device(requested)
        count = cuda_devices(gpus)
        if device == "cpu":
            return cls(device, "cpu")
        if device == "auto":
            if count == 0:
                return cls(device, "cpu", "no NVIDIA GPU found (no driver under /proc/driver/nvidia)")
            return cls(device, "cuda:0")
        index = int(device.split(":")[1])
        if count == 0:
            raise DeviceError(f"--device {device}: there is no CUDA device here (no NVIDIA driver under /proc/driver/nvidia)")
        if index >= count:
            raise DeviceError(f"--device {device}: this machine has {count} CUDA device(s), numbered from 0")
        return cls(device, device)

    def note(self, kind: str, device: str, why: str | None) -> None:
        """A runtime of `kind` loaded on `device` (`why`: the reason it is not the target)."""
        with self._lock:
            self.used[kind] = (device, why)

    def describe(self) -> dict[str, object]:
        """For og_nodes, the banner and the explorer."""
        with self._lock:
            runtimes = {k: {"device": d, **({"fallback": w} if w else {})} for k, (d, w) in sorted(self.used.items())}
        return {"requested": self.requested, "target": self.target, **({"reason": self.reason} if self.reason else {}),
                "runtimes": runtimes}  # fmt: skip
