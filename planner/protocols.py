"""The seams of the stack (design.md): each box is a protocol, picked by a Hydra group with `_target_`.

Components that read the simulator itself (the oracles) also implement `attach(env)`; the agent calls it at
the start of every episode so they see the live scene. Learned components never get the env.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from sim.targets import Subgoal


@runtime_checkable
class VideoModel(Protocol):
    frame_stride: int  # env steps between consecutive imagined frames

    def imagine(self, image: np.ndarray, text: str, num_samples: int) -> np.ndarray:
        """uint8 [H, W, 3] now + subgoal text -> uint8 [K, T, H, W, 3], the T frames after `image`."""


@runtime_checkable
class InverseDynamics(Protocol):
    frame_stride: int  # env steps between the frames it reads
    # optional `follows_pusher = False`: its actions do not copy the imagined pusher's path, so the search does
    # not check that they replay it (planner.object_motion)

    def actions(self, frames: np.ndarray) -> np.ndarray:
        """uint8 [N+1, H, W, 3] -> float32 [N * frame_stride, action_dim], the actions joining the frames."""


@runtime_checkable
class SubgoalPlanner(Protocol):
    def plan(self, image: np.ndarray, instruction: str) -> list[Subgoal]:
        """uint8 [H, W, 3] + instruction -> ordered subgoals (raises a DreamplanError if it cannot ground it)."""


def attach_all(env, *components) -> None:
    for c in components:
        if hasattr(c, "attach"):
            c.attach(env)


def close_all(*components) -> None:
    """Release what each component holds (a simulator copy's GL context); those without close() hold nothing."""
    for c in components:
        if hasattr(c, "close"):
            c.close()
