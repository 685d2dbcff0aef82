"""A compact CNN inverse-dynamics model: frames stacked on channels -> strided convs -> MLP -> k actions.

Implements the `InverseDynamics` protocol (planner/protocols.py):
    model.actions(frames uint8 [N+1, H, W, 3]) -> float32 [N * frame_stride, action_dim]
i.e. `frame_stride` actions in [-1, 1]^action_dim for each consecutive pair of frames, which are `frame_stride` env
steps apart: 2-D for the tabletop's pusher, 4-D for Meta-World (xyz displacement + gripper).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.checkpoint import load_model, save_model
from training.model_config import ModelConfig
from training.modules import conv_block

STAGE_MULTIPLIERS = (1, 2, 2, 4)  # channels of the stride-2 conv stages, x width: 64px -> 4x4 features


@dataclass
class InverseDynamicsConfig(ModelConfig):
    """InverseDynamicsCNN's config; defaults = configs/invdyn/cnn.yaml."""

    frame_stride: int = 4   # env steps between the two frames; k actions predicted per pair
    context: int = 0        # earlier frames (each frame_stride steps apart) given with the pair
    image_size: int = 64
    width: int = 32         # channels of the first conv; the stride-2 stages use STAGE_MULTIPLIERS x width
    hidden: int = 256       # MLP head width
    action_dim: int = 2     # 2: the tabletop pusher's xy; 4: Meta-World (xyz displacement + gripper)

    def __post_init__(self) -> None:
        super().__post_init__()
        stages = len(STAGE_MULTIPLIERS)
        if self.frame_stride < 1 or self.context < 0 or self.width < 1 or self.hidden < 1 or self.action_dim < 1 \
                or self.image_size % 2 ** stages:
            raise ValueError(f"bad inverse-dynamics config: frame_stride={self.frame_stride}, context={self.context}, "
                             f"action_dim={self.action_dim}, image_size={self.image_size} (must be divisible by "
                             f"2^{stages} conv stages)")


class InverseDynamicsCNN(nn.Module):
    """Input per pair: `context` earlier frames, o_t, o_{t+k} and the difference o_{t+k} - o_t, on channels."""

    def __init__(self, config: InverseDynamicsConfig | dict | None = None, **options):
        """From an InverseDynamicsConfig or its fields as keyword arguments (what a Hydra `_target_` passes)."""
        super().__init__()
        self.config = config = InverseDynamicsConfig.from_args(config, options)
        self.frame_stride, self.context, self.image_size = config.frame_stride, config.context, config.image_size
        self.action_dim = config.action_dim
        frame_stride, context, image_size, hidden = self.frame_stride, self.context, self.image_size, config.hidden
        channels = [config.width * m for m in STAGE_MULTIPLIERS]
        in_channels = 3 * (context + 3)
        self.encoder = nn.Sequential(*[conv_block(a, b) for a, b in zip([in_channels, *channels], channels)])
        side = image_size // 2 ** len(channels)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels[-1] * side * side, hidden), nn.SiLU(),
                                  nn.Linear(hidden, frame_stride * self.action_dim))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: float [B, context + 2, H, W, 3] in [0, 1] -> actions [B, frame_stride, action_dim] (not clipped)."""
        x = frames.permute(0, 1, 4, 2, 3)  # B, n, 3, H, W
        x = torch.cat([x, (x[:, -1:] - x[:, -2:-1])], dim=1) * 2 - 1
        out = self.head(self.encoder(x.flatten(1, 2)))
        return out.view(-1, self.frame_stride, self.action_dim)

    # ------------------------------------------------------------------------------- the protocol
    def pair_inputs(self, frames: np.ndarray) -> np.ndarray:
        """uint8 [N+1, H, W, 3] -> uint8 [N, context + 2, H, W, 3]: each pair with its earlier frames
        (before the first frame: the first frame repeated, as in training at an episode's start)."""
        n = len(frames) - 1
        idx = np.arange(n)[:, None] + np.arange(-self.context, 2)[None]
        return frames[np.clip(idx, 0, None)]

    @torch.no_grad()
    def actions(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[0] < 2 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames [N+1, H, W, 3] with N >= 1, got shape {frames.shape}")
        if frames.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"this inverse-dynamics model reads {self.image_size}x{self.image_size} frames, "
                             f"got {frames.shape[1]}x{frames.shape[2]}")
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        x = torch.from_numpy(self.pair_inputs(frames)).to(device).float().div_(255)
        out = self(x).clamp_(-1, 1)
        self.train(was_training)
        return out.reshape(-1, self.action_dim).cpu().numpy().astype(np.float32)

    # --------------------------------------------------------------------------------- checkpoints
    def save(self, directory: str | Path) -> Path:
        """model.safetensors + config.json, loadable with `from_pretrained`."""
        return save_model(directory, self.state_dict(), self.config.to_dict())

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu", ema: bool = True) -> "InverseDynamicsCNN":
        """Load a `save`d model, a training checkpoint (step-*/), or a run dir's latest checkpoint.
        With `ema` and an ema.safetensors next to the weights, loads the averaged weights."""
        build = lambda config: cls(InverseDynamicsConfig.from_dict(config, saved=True))  # noqa: E731
        return load_model(path, build, "an inverse-dynamics CNN", ema).to(device).eval()

    load = from_pretrained
