"""Training pairs for inverse dynamics: frames (o_{t-c*k}, ..., o_t, o_{t+k}) and the k actions between o_t and o_{t+k}.

Same windows as `sim.dataset.WindowDataset(horizon=1, stride=k)` (one per step of every reached subgoal segment;
past the segment's end the last frame repeats, actions are zero and `action_mask` is False), plus `context`
earlier frames (clamped at the episode's first frame). Episodes are read into memory once: reading single
frames out of the HDF5 shards window by window is far slower than a training step.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from invdyn.goal_reaching import goal_indices
from sim.dataset import DatasetError, EpisodeStore


class Segment(NamedTuple):
    """A reached subgoal segment of a recorded episode: steps start..end-1, and the subgoal's text."""
    episode: int
    start: int
    end: int
    text: str


def read_steps(source: str | EpisodeStore, tasks: Iterable[str] | None, max_episodes: int | None,
               keys: tuple[str, ...]) -> tuple[dict[str, list[np.ndarray]], np.ndarray, dict, list[Segment]]:
    """The arrays `keys` of each successful episode, in memory, and an index row (episode, segment end, step) per
    step of every reached subgoal segment; with the recording's env config and the segments themselves."""
    store = source if isinstance(source, EpisodeStore) else EpisodeStore(source, success_only=True, tasks=tasks)
    n = len(store) if max_episodes is None else min(len(store), max_episodes)
    episodes: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    index, segments = [], []
    for e in range(n):
        g = store.group(e)
        for k in keys:
            episodes[k].append(g[k][()])
        for start, end, subgoal in store.segments(e):
            index += [(e, end, t) for t in range(start, end)]
            segments.append(Segment(e, start, end, subgoal["text"]))
    env_config = store.env_config
    store.close()
    if not index:
        raise DatasetError("the dataset holds no usable subgoal segments")
    return episodes, np.asarray(index, dtype=np.int64), env_config, segments


class FramePairs(Dataset):
    def __init__(self, source: str | EpisodeStore, stride: int, context: int = 0, tasks: Iterable[str] | None = None,
                 max_episodes: int | None = None):
        if stride < 1 or context < 0:
            raise ValueError(f"stride must be >= 1 and context >= 0, got {stride}, {context}")
        self.stride, self.context = stride, context
        episodes, self.index, self.env_config, _ = read_steps(source, tasks, max_episodes, ("frames", "actions"))
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
    (s, the steps left to the next imagined frame, drawn from 1..k; clamped at the segment's end). `imagined`
    says whether the goals came from an imagined clip (below) or from the recorded frames.

    `goal_frames` (optional, per episode, aligned with the recorded frames): what the goals look like through the
    video model's autoencoder; each sample's goals come from them with probability `goal_frames_prob`, so the model
    reads decoded frames as it will at run time.

    `imagined` (optional, per episode): clips the video model imagined from some of the episode's frames with the
    segment's text, as the agent imagines one from its frame at the start of an attempt; with probability
    `imagined_prob` a sample whose step falls inside such a clip takes its goals from the clip, at the place the
    agent would read them (GoalReachingInverseDynamics.goal_inputs), and keeps the expert's action. What the
    video model gets wrong then reads as what it is: a hint of where the expert went."""

    def __init__(self, source: str | EpisodeStore, stride: int, proprio_dim: int, tasks: Iterable[str] | None = None,
                 max_episodes: int | None = None):
        if stride < 1 or proprio_dim < 1:
            raise ValueError(f"stride and proprio_dim must be >= 1, got {stride}, {proprio_dim}")
        self.stride = stride
        episodes, self.index, self.env_config, self.segments = read_steps(source, tasks, max_episodes,
                                                                          ("frames", "states", "actions"))
        self.frames: list[np.ndarray] = episodes["frames"]
        self.proprio = [states[:, :proprio_dim].astype(np.float32) for states in episodes["states"]]
        self.actions: list[np.ndarray] = episodes["actions"]
        self.goal_frames: list[np.ndarray] | None = None
        self.goal_frames_prob = 0.0
        self.imagined: dict[int, ImaginedClips] | None = None
        self.imagined_prob = 0.0
        self.action_dim = int(self.actions[0].shape[-1])

    def use_goal_frames(self, goal_frames: list[np.ndarray], prob: float) -> None:
        if len(goal_frames) != len(self.frames) or any(a.shape != b.shape for a, b in zip(goal_frames, self.frames)):
            raise ValueError("goal_frames must match the recorded frames episode by episode")
        self.goal_frames, self.goal_frames_prob = goal_frames, float(prob)

    def use_imagined(self, imagined: dict[int, ImaginedClips], prob: float) -> None:
        for e, clips in imagined.items():
            if not 0 <= e < len(self.frames) or clips.clips.shape[2:] != self.frames[e].shape[1:]:
                raise ValueError(f"imagined clips for episode {e} do not match the recorded episodes")
        self.imagined, self.imagined_prob = imagined, float(prob)

    def all_proprio(self) -> np.ndarray:
        return np.concatenate(self.proprio)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        e, end, t = (int(v) for v in self.index[i])
        if self.imagined is not None and e in self.imagined and float(torch.rand(())) < self.imagined_prob:
            sample = self._from_imagined(e, end, t)
            if sample is not None:
                return sample
        k = self.stride
        steps_left = int(torch.randint(1, k + 1, ()))  # torch's generator: seeded, saved and restored by the trainer
        goal_steps = np.minimum([t + steps_left, t + steps_left + k], end)
        source = self.frames[e]
        if self.goal_frames is not None and float(torch.rand(())) < self.goal_frames_prob:
            source = self.goal_frames[e]
        frames = np.concatenate([self.frames[e][t : t + 1], source[goal_steps]])
        return {"frames": frames, "proprio": self.proprio[e][t], "steps_left": np.int64(steps_left),
                "imagined": np.int64(0), "action": self.actions[e][t]}

    def _from_imagined(self, e: int, end: int, t: int) -> dict[str, np.ndarray] | None:
        """The sample at step t with its goals read from a clip imagined at most a clip's length before t in the
        same segment (one drawn at random if several cover t); None if none does."""
        k, clips = self.stride, self.imagined[e]
        covers = np.flatnonzero((clips.starts <= t) & (t < clips.starts + clips.clips.shape[1] * k)
                                & (clips.ends == end))
        if not len(covers):
            return None
        c = int(covers[int(torch.randint(len(covers), ()))])
        into = t - int(clips.starts[c])
        goals = clips.clips[c][goal_indices(into // k, clips.clips.shape[1])]
        return {"frames": np.concatenate([self.frames[e][t : t + 1], goals]), "proprio": self.proprio[e][t],
                "steps_left": np.int64(k - into % k), "imagined": np.int64(1), "action": self.actions[e][t]}


class ImaginedClips(NamedTuple):
    """Clips imagined from frames of one recorded episode: clip i [T, H, W, 3] from frame starts[i] of the
    segment that ends at ends[i]."""
    starts: np.ndarray
    ends: np.ndarray
    clips: np.ndarray
