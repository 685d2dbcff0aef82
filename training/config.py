"""Training hyper-parameters shared by every model trained with `training.Trainer`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 64              # per process; the global batch is batch_size x processes
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0             # linear warm-up from 0, then cosine decay to lr * min_lr_ratio at `steps`
                                      # (transformers' get_cosine_with_min_lr_schedule_with_warmup)
    min_lr_ratio: float = 0.1
    grad_clip: float | None = 1.0     # max global grad norm; None: no clipping
    mixed_precision: str = "no"       # "no" | "bf16" (autocast, also on CPU) | "fp16" (GPU only) | "auto" (bf16 where fast)
    ema_decay: float | None = None    # keep an exponential moving average of the weights (saved as ema.safetensors)
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2         # older step-* directories are deleted
    log_every: int = 50
    num_workers: int = 0              # DataLoader worker processes per training process
    devices: int = 1                  # processes to launch (the command line re-launches itself with torchrun)

    # Changing these between runs of the same run dir is fine (e.g. train for longer); anything else is refused.
    # mixed_precision too: weights and optimizer state are fp32 whatever the autocast (resume on another machine).
    RESUMABLE = ("steps", "checkpoint_every", "keep_checkpoints", "log_every", "num_workers", "mixed_precision",
                 "devices")  # more processes: each new one seeds its own stream (Trainer._restore)

    def __post_init__(self) -> None:
        if self.mixed_precision not in ("no", "bf16", "fp16", "auto"):
            raise ValueError(f"mixed_precision must be 'no', 'bf16', 'fp16' or 'auto', got {self.mixed_precision!r}")
        for name in ("steps", "batch_size", "checkpoint_every", "log_every", "devices"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"trainer.{name} must be >= 1, got {getattr(self, name)}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"trainer.ema_decay must be in (0, 1) or null, got {self.ema_decay}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown trainer option(s) {sorted(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**d)
