"""Whether bf16 pays off on this machine, for `mixed_precision: auto` (training) and `inference_dtype: auto`.

bf16 autocast cuts the cost of the DiT's matrix products on CPUs with bf16 instructions and makes them far
slower on CPUs without them (AVX2 only), where PyTorch emulates bf16. So "auto" asks the hardware.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def bf16_is_fast(device: str | torch.device = "cpu") -> bool:
    if torch.device(device).type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(BF16_CPU_FLAGS & cpu_flags())


def resolve_mixed_precision(setting: str, device: str | torch.device = "cpu") -> str:
    """'auto' -> 'bf16' where bf16 is fast, else 'no'; any other setting is returned as it is."""
    if setting != "auto":
        return setting
    return "bf16" if bf16_is_fast(device) else "no"
