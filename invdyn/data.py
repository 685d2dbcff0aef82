"""Training pairs for inverse dynamics: frames (o_{t-c*k}, ..., o_t, o_{t+k}) and the k actions between o_t and o_{t+k}.

Same windows as `sim.dataset.WindowDataset(horizon=1, stride=k)` (one per step of every reached subgoal segment;
past the segment's end the last frame repeats, actions are zero and `action_mask` is False), plus `context`
earlier frames (clamped at the episode's first frame). Episodes are read into memory once: reading single
frames out of the HDF5 shards window by window is far slower than a training step.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch.utils.data import Dataset

from sim.dataset import DatasetError, EpisodeStore


def read_steps(source: str | EpisodeStore, tasks: Iterable[str] | None, max_episodes: int | None,
               keys: tuple[str, ...]) -> tuple[dict[str, list[np.ndarray]], np.ndarray, dict]:
    """The arrays `keys` of each successful episode, in memory, and an index row (episode, segment end, step) per
    step of every reached subgoal segment; with the recording's env config."""
    store = source if isinstance(source, EpisodeStore) else EpisodeStore(source, success_only=True, tasks=tasks)
    n = len(store) if max_episodes is None else min(len(store), max_episodes)
    episodes: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    index = []
    for e in range(n):
        g = store.group(e)
        for k in keys:
            episodes[k].append(g[k][()])
        for start, end, _ in store.segments(e):
            index += [(e, end, t) for t in range(start, end)]
    env_config = store.env_config
    store.close()
    if not index:
        raise DatasetError("the dataset holds no usable subgoal segments")
    return episodes, np.asarray(index, dtype=np.int64), env_config


class FramePairs(Dataset):
    def __init__(self, source: str | EpisodeStore, stride: int, context: int = 0, tasks: Iterable[str] | None = None,
                 max_episodes: int | None = None):
        if stride < 1 or context < 0:
            raise ValueError(f"stride must be >= 1 and context >= 0, got {stride}, {context}")
        self.stride, self.context = stride, context
        episodes, self.index, self.env_config = read_steps(source, tasks, max_episodes, ("frames", "actions"))
        self.frames: list[np.ndarray] = episodes["frames"]    # per episode, uint8 [T+1, H, W, 3]
        self.actions: list[np.ndarray] = episodes["actions"]  # per episode, float32 [T, action_dim]
        self.action_dim = int(self.actions[0].shape[-1])  # 2: the tabletop's pusher, 4: Meta-World

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        e, end, t = (int(v) for v in self.index[i])
        k = self.stride
        steps = t + np.arange(k)
        mask = steps < end
        actions = np.zeros((k, self.action_dim), np.float32)
        actions[mask] = self.actions[e][t : min(t + k, end)]
        frame_steps = [max(0, t - j * k) for j in range(self.context, 0, -1)] + [t, min(t + k, end)]
        return {"frames": self.frames[e][frame_steps], "actions": actions, "action_mask": mask}


class GoalSteps(Dataset):
    """Closed-loop inverse-dynamics samples: for each step t of every reached subgoal segment, the frame o_t, the
    robot's proprioception at t (the state's first `proprio_dim` entries: what the env gives agents as "proprio"),
    the action taken at t, and goals as the video model imagines them -- the frames at t + s and t + s + k
    (s, the steps left to the next imagined frame, drawn from 1..k; clamped at the segment's end).

    `goal_frames` (optional, per episode, aligned with the recorded frames): what the goals look like through the
    video model's autoencoder; each sample's goals come from them with probability `goal_frames_prob`, so the model
    reads decoded frames as it will at run time."""

    def __init__(self, source: str | EpisodeStore, stride: int, proprio_dim: int, tasks: Iterable[str] | None = None,
                 max_episodes: int | None = None):
        if stride < 1 or proprio_dim < 1:
            raise ValueError(f"stride and proprio_dim must be >= 1, got {stride}, {proprio_dim}")
        self.stride = stride
        episodes, self.index, self.env_config = read_steps(source, tasks, max_episodes, ("frames", "states", "actions"))
        self.frames: list[np.ndarray] = episodes["frames"]
        self.proprio = [states[:, :proprio_dim].astype(np.float32) for states in episodes["states"]]
        self.actions: list[np.ndarray] = episodes["actions"]
        self.goal_frames: list[np.ndarray] | None = None
        self.goal_frames_prob = 0.0
        self.action_dim = int(self.actions[0].shape[-1])

    def use_goal_frames(self, goal_frames: list[np.ndarray], prob: float) -> None:
        if len(goal_frames) != len(self.frames) or any(a.shape != b.shape for a, b in zip(goal_frames, self.frames)):
            raise ValueError("goal_frames must match the recorded frames episode by episode")
        self.goal_frames, self.goal_frames_prob = goal_frames, float(prob)

    def all_proprio(self) -> np.ndarray:
        return np.concatenate(self.proprio)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        e, end, t = (int(v) for v in self.index[i])
        k = self.stride
        steps_left = int(torch.randint(1, k + 1, ()))  # torch's generator: seeded, saved and restored by the trainer
        goal_steps = np.minimum([t + steps_left, t + steps_left + k], end)
        source = self.frames[e]
        if self.goal_frames is not None and float(torch.rand(())) < self.goal_frames_prob:
            source = self.goal_frames[e]
        frames = np.concatenate([self.frames[e][t : t + 1], source[goal_steps]])
        return {"frames": frames, "proprio": self.proprio[e][t], "steps_left": np.int64(steps_left),
                "action": self.actions[e][t]}
