"""Training pairs for inverse dynamics: frames (o_{t-c*k}, ..., o_t, o_{t+k}) and the k actions between o_t and o_{t+k}.

Same windows as `sim.dataset.WindowDataset(horizon=1, stride=k)` (one per step of every reached subgoal segment;
past the segment's end the last frame repeats, actions are zero and `action_mask` is False), plus `context`
earlier frames (clamped at the episode's first frame). Episodes are read into memory once: reading single
frames out of the HDF5 shards window by window is far slower than a training step.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from torch.utils.data import Dataset

from sim.dataset import DatasetError, EpisodeStore


class FramePairs(Dataset):
    def __init__(self, source: str | EpisodeStore, stride: int, context: int = 0, tasks: Iterable[str] | None = None,
                 max_episodes: int | None = None):
        if stride < 1 or context < 0:
            raise ValueError(f"stride must be >= 1 and context >= 0, got {stride}, {context}")
        store = source if isinstance(source, EpisodeStore) else EpisodeStore(source, success_only=True, tasks=tasks)
        self.stride, self.context = stride, context
        self.env_config = store.env_config
        n = len(store) if max_episodes is None else min(len(store), max_episodes)
        self.frames: list[np.ndarray] = []   # per episode, uint8 [T+1, H, W, 3]
        self.actions: list[np.ndarray] = []  # per episode, float32 [T, action_dim]
        index = []
        for e in range(n):
            g = store.group(e)
            self.frames.append(g["frames"][()])
            self.actions.append(g["actions"][()])
            for start, end, _ in store.segments(e):
                index += [(e, end, t) for t in range(start, end)]
        store.close()
        if not index:
            raise DatasetError("the dataset holds no usable subgoal segments")
        self.action_dim = int(self.actions[0].shape[-1])  # 2: the tabletop's pusher, 4: Meta-World
        self.index = np.asarray(index, dtype=np.int64)  # episode, segment end, window start

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
