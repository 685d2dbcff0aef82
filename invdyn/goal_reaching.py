"""Closed-loop inverse dynamics: the action that takes the robot from what it senses now toward the imagined frame.

Implements `ClosedLoopInverseDynamics` (dreamplan/protocols.py), queried at every env step instead of once per
clip:
    model.act(image uint8 [H, W, 3], proprio float [P], clip uint8 [T, H, W, 3], t, imagined)
        -> float32 [action_dim]
where `clip` is the imagined future (frame j is (j + 1) * frame_stride steps after the clip began), `t` the steps
taken since, and `imagined` whether a world model drew the clip (read with `goal_source`). Its inputs are the real
camera image, the robot's proprioception (Meta-World: hand xyz and gripper opening), the next imagined frame and the
one after it, and the steps left until the next one is due. Reading the real frame and the real hand position at
every step lets it correct what open-loop inverse dynamics can't: a grasp that slipped, a hand that lagged behind
the imagined one.
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
GOALS = 2                          # imagined frames read: the next one due and the one after it


def goal_indices(j: int, length: int) -> np.ndarray:
    """The frames of a `length`-frame clip read as goals while frame j is the next one due: j and the ones after it,
    the last frame past the clip's end."""
    return np.minimum(np.arange(j, j + GOALS), length - 1)


@dataclass
class GoalReachingConfig(ModelConfig):
    """GoalReachingInverseDynamics' config; defaults = configs/invdyn/goal_reaching.yaml."""

    frame_stride: int = 8   # env steps between imagined frames
    image_size: int = 64
    proprio_dim: int = 4    # Meta-World: hand xyz + gripper opening
    width: int = 32         # channels of the first conv; the stride-2 stages use STAGE_MULTIPLIERS x width
    hidden: int = 256       # MLP head width
    action_dim: int = 4     # Meta-World: xyz displacement + gripper effort
    goal_source: bool = False  # a second head for goals a world model drew; the first reads the simulator's frames

    def __post_init__(self) -> None:
        super().__post_init__()
        stages = len(STAGE_MULTIPLIERS)
        if min(self.frame_stride, self.proprio_dim, self.width, self.hidden, self.action_dim) < 1 \
                or self.image_size % 2 ** stages:
            raise ValueError(f"bad goal-reaching config: frame_stride={self.frame_stride}, proprio_dim="
                             f"{self.proprio_dim}, action_dim={self.action_dim}, image_size={self.image_size} (must "
                             f"be divisible by 2^{stages} conv stages)")


class GoalReachingInverseDynamics(nn.Module):
    """Input: the frame now, the two goal frames and (next goal - now) on channels; proprioception (normalized
    with the training data's statistics, kept as buffers) and the steps left to the next goal, one-hot, beside the
    conv features. With `goal_source` the encoder is shared and a second MLP head acts on imagined goals, so what
    it learns about the DiT's blurred goals does not change how the first head follows the simulator's."""

    closed_loop = True

    def __init__(self, config: GoalReachingConfig | dict | None = None, **options):
        super().__init__()
        self.config = config = GoalReachingConfig.from_args(config, options)
        self.frame_stride, self.image_size, self.action_dim = config.frame_stride, config.image_size, config.action_dim
        channels = [config.width * m for m in STAGE_MULTIPLIERS]
        self.encoder = nn.Sequential(*[conv_block(a, b) for a, b in zip([3 * (GOALS + 2), *channels], channels)],
                                     nn.Flatten())
        side = config.image_size // 2 ** len(channels)
        inputs = channels[-1] * side * side + config.proprio_dim + config.frame_stride

        def head() -> nn.Sequential:
            return nn.Sequential(nn.Linear(inputs, config.hidden), nn.SiLU(), nn.Linear(config.hidden, config.hidden),
                                 nn.SiLU(), nn.Linear(config.hidden, config.action_dim))

        self.head = head()
        self.imagined_head = head() if config.goal_source else None
        self.register_buffer("proprio_mean", torch.zeros(config.proprio_dim))
        self.register_buffer("proprio_std", torch.ones(config.proprio_dim))

    def set_proprio_statistics(self, proprio: np.ndarray) -> None:
        """Normalize proprioception as in `proprio` [N, P] (the training data's)."""
        p = torch.as_tensor(np.asarray(proprio, np.float32))
        self.proprio_mean.copy_(p.mean(0))
        self.proprio_std.copy_(p.std(0).clamp(min=1e-3))

    def forward(self, frames: torch.Tensor, proprio: torch.Tensor, steps_left: torch.Tensor,
                imagined: torch.Tensor | None = None) -> torch.Tensor:
        """frames: float [B, 1 + GOALS, H, W, 3] in [0, 1] (now, then the goals); proprio [B, P]; steps_left
        long [B] in 1..frame_stride; imagined long [B] in {0, 1} (read with `goal_source`) -> actions
        [B, action_dim] (not clipped)."""
        x = frames.permute(0, 1, 4, 2, 3)
        x = torch.cat([x, x[:, 1:2] - x[:, :1]], dim=1) * 2 - 1
        features = self.encoder(x.flatten(1, 2))
        x = torch.cat([features, ((proprio - self.proprio_mean) / self.proprio_std).to(features.dtype),
                       nn.functional.one_hot(steps_left - 1, self.frame_stride).to(features.dtype)], dim=1)
        if self.imagined_head is None:
            return self.head(x)
        if imagined is None:
            raise ValueError("this model reads where its goals come from: pass `imagined`")
        imagined = imagined.bool()
        out = x.new_empty(len(x), self.action_dim)
        out[~imagined] = self.head(x[~imagined])
        out[imagined] = self.imagined_head(x[imagined])
        return out

    # ------------------------------------------------------------------------------- the protocol
    def goal_inputs(self, image: np.ndarray, clip: np.ndarray, t: int) -> tuple[np.ndarray, int]:
        """uint8 [1 + GOALS, H, W, 3] (now, the next imagined frame due after step t, the one after; past the
        clip's end its last frame) and the steps left until the first is due."""
        goals = clip[goal_indices(t // self.frame_stride, len(clip))]
        return np.concatenate([image[None], goals]), self.frame_stride - t % self.frame_stride

    @torch.no_grad()
    def act(self, image: np.ndarray, proprio: np.ndarray, clip: np.ndarray, t: int,
            imagined: bool = True) -> np.ndarray:
        image, clip = np.asarray(image), np.asarray(clip)
        if clip.ndim != 4 or len(clip) < 1 or image.shape != clip.shape[1:]:
            raise ValueError(f"expected an image [H, W, 3] and a clip [T, H, W, 3] of such frames, got shapes "
                             f"{image.shape} and {clip.shape}")
        if image.shape[:2] != (self.image_size, self.image_size):
            raise ValueError(f"this inverse-dynamics model reads {self.image_size}x{self.image_size} frames, "
                             f"got {image.shape[0]}x{image.shape[1]}")
        if not 0 <= t < len(clip) * self.frame_stride:
            raise ValueError(f"step {t} is outside the clip's {len(clip) * self.frame_stride} steps")
        frames, steps_left = self.goal_inputs(image, clip, t)
        was_training = self.training
        self.eval()
        device = self.proprio_mean.device
        out = self(torch.from_numpy(frames[None]).to(device).float().div_(255),
                   torch.as_tensor(np.asarray(proprio, np.float32)[None], device=device),
                   torch.tensor([steps_left], device=device), torch.tensor([int(imagined)], device=device))
        self.train(was_training)
        return out[0].clamp_(-1, 1).cpu().numpy().astype(np.float32)

    # --------------------------------------------------------------------------------- checkpoints
    def save(self, directory: str | Path) -> Path:
        return save_model(directory, self.state_dict(), self.config.to_dict())

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu", ema: bool = True) -> "GoalReachingInverseDynamics":
        build = lambda config: cls(GoalReachingConfig.from_dict(config, saved=True))  # noqa: E731
        return load_model(path, build, "a goal-reaching inverse-dynamics model", ema).to(device).eval()

    load = from_pretrained
