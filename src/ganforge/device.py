"""Device selection: CUDA when present, else CPU."""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available else cpu; otherwise the named device, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanforgeError(f"--device '{name}' is not a device name (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return device
