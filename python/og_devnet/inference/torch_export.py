"""Export a torch module to ONNX, the format the devnet runs. torch is imported here only,
never on the path of `og-devnet up` (it lives in the `models` extra)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any


def export_torch_module(module: Any, example_input: Any, path: Path | None = None, *,
                        input_name: str = "input", output_name: str = "output") -> bytes:  # fmt: skip
    """Exports `module` traced on `example_input` (batch dimension fixed as given) and
    returns the ONNX bytes; writes them to `path` too when given."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError("exporting a torch module needs torch: pip install 'og-devnet[models]'") from e
    module = module.eval()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, (example_input,), buf, input_names=[input_name], output_names=[output_name],
                          opset_version=17, dynamo=False)  # fmt: skip
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
