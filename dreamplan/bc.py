"""Language-conditioned behaviour cloning: the baseline UniPi and VLP beat.

A policy that maps (previous frame, current frame, instruction) straight to the next `chunk` actions,
trained on the same expert episodes as the video model and inverse dynamics, with no planner and no
imagination. The instruction enters through FiLM on the image features (sentence embedding -> scale, shift).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from dreamplan.episode import Episode, Stepper, timed
from dreamplan.robot import Robot
from sim.dataset import DatasetError, EpisodeStore
from training.checkpoint import load_model, save_model
from training.model_config import ModelConfig
from training.modules import conv_block, masked_mse

ACTION_DIM = 2
TEXT_DIM = 384


@dataclass
class BCPolicyConfig(ModelConfig):
    """BCPolicy's config; defaults = configs/train/bc.yaml's model."""

    chunk: int = 4          # actions predicted (and executed) per observation
    image_size: int = 64    # must be divisible by 16 (4 stride-2 conv stages)
    width: int = 32         # channels of the first conv; the stages use 1x, 2x, 2x, 4x
    hidden: int = 256       # MLP head width
    text_dim: int = TEXT_DIM  # the instruction's sentence embedding (all-MiniLM-L6-v2)

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.chunk, self.width, self.hidden, self.text_dim) < 1 or self.image_size < 16 or self.image_size % 16:
            raise ValueError(f"bad behaviour-cloning config: {self.to_dict()}")


class BCPolicy(nn.Module):
    def __init__(self, config: BCPolicyConfig | dict | None = None, **options):
        """From a BCPolicyConfig or its fields as keyword arguments (what a Hydra `_target_` passes)."""
        super().__init__()
        self.config = config = BCPolicyConfig.from_args(config, options)
        chunk, image_size, width, hidden, text_dim = (config.chunk, config.image_size, config.width, config.hidden,
                                                      config.text_dim)
        self.chunk, self.image_size = chunk, image_size
        channels = [width, 2 * width, 2 * width, 4 * width]
        self.encoder = nn.Sequential(*[conv_block(a, b) for a, b in zip([6, *channels], channels)])
        self.film = nn.Linear(text_dim, 2 * channels[-1])
        side = image_size // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels[-1] * side * side, hidden), nn.SiLU(),
                                  nn.Linear(hidden, chunk * ACTION_DIM))

    def forward(self, frames: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """frames float [B, 2, H, W, 3] in [0, 1] (previous, current), text [B, text_dim] -> [B, chunk, 2]."""
        x = frames.permute(0, 1, 4, 2, 3).flatten(1, 2) * 2 - 1
        h = self.encoder(x)
        scale, shift = self.film(text).chunk(2, dim=-1)
        h = h * (1 + scale[..., None, None]) + shift[..., None, None]
        return self.head(h).view(-1, self.chunk, ACTION_DIM)

    @torch.no_grad()
    def act(self, previous: np.ndarray, current: np.ndarray, text_embedding: np.ndarray) -> np.ndarray:
        frames = torch.from_numpy(np.stack([previous, current])[None]).float().div_(255)
        out = self(frames, torch.from_numpy(np.asarray(text_embedding, np.float32)[None]))
        return out[0].clamp_(-1, 1).numpy()

    def save(self, directory: str | Path) -> Path:
        return save_model(directory, self.state_dict(), self.config.to_dict())

    @classmethod
    def from_pretrained(cls, path: str | Path, ema: bool = True) -> "BCPolicy":
        build = lambda config: cls(BCPolicyConfig.from_dict(config, saved=True))  # noqa: E731
        return load_model(path, build, "a behaviour-cloning policy", ema).eval()


class BCWindows(Dataset):
    """Every step of every successful episode: (frame t-chunk, frame t), instruction embedding, next `chunk`
    actions (masked past the episode's end). Episodes are held in memory."""

    def __init__(self, source, chunk: int, embed: Callable[[list[str]], np.ndarray], tasks: Iterable[str] | None = None):
        store = source if isinstance(source, EpisodeStore) else EpisodeStore(source, success_only=True, tasks=tasks)
        self.chunk = chunk
        self.frames, self.actions, instructions, index = [], [], [], []
        for e in range(len(store)):
            g = store.group(e)
            self.frames.append(g["frames"][()])
            self.actions.append(g["actions"][()])
            instructions.append(str(g.attrs["instruction"]))
            index += [(e, t) for t in range(len(self.actions[-1]))]
        store.close()
        if not index:
            raise DatasetError("no successful episodes to clone")
        unique = sorted(set(instructions))
        table = dict(zip(unique, np.asarray(embed(unique), np.float32)))
        self.text = [table[i] for i in instructions]
        self.index = np.asarray(index, np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        e, t = (int(v) for v in self.index[i])
        acts = self.actions[e]
        mask = t + np.arange(self.chunk) < len(acts)
        actions = np.zeros((self.chunk, ACTION_DIM), np.float32)
        actions[mask] = acts[t : t + self.chunk]
        frames = self.frames[e][[max(0, t - self.chunk), t]]
        return {"frames": frames, "text": self.text[e], "actions": actions, "action_mask": mask}


def bc_loss(model: nn.Module, batch: dict) -> tuple[torch.Tensor, dict]:
    pred = model(batch["frames"].float().div_(255), batch["text"].float())
    return masked_mse(pred, batch["actions"], batch["action_mask"]), {}


class BCAgent:
    """Acts from the image and the instruction alone: a chunk of actions per observation, then re-observes."""

    def __init__(self, policy: BCPolicy, text_encoder):
        self.policy, self.text_encoder = policy, text_encoder

    def run(self, robot: Robot, instruction: str, on_event: Callable[[str, object], None] | None = None) -> Episode:
        episode = Episode(instruction, frames=[robot.image])
        text = np.asarray(self.text_encoder.embed([instruction]), np.float32)[0]
        stepper = Stepper(robot, episode)
        while not stepper.done:
            previous = episode.frames[max(0, len(episode.frames) - 1 - self.policy.chunk)]
            with timed(episode, "policy"):
                actions = self.policy.act(previous, episode.frames[-1], text)
            for a in actions:
                with timed(episode, "sim"):
                    stepper.step(a)
                if stepper.done:
                    break
        return episode
