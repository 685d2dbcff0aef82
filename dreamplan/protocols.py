"""The seams of the stack (design.md): each box is a protocol, picked by a Hydra group with `_target_`.

Implementations need not import these (structural typing). Components that read the simulator itself (the
oracles) also implement `attach(env)`: the episode runner hands them the live env before every episode.
Everything else sees the world only through `dreamplan.robot.Robot`.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from dreamplan.episode import Episode
from dreamplan.robot import Robot
from sim.targets import Subgoal


@runtime_checkable
class VideoModel(Protocol):
    frame_stride: int  # env steps between consecutive imagined frames
    # optional `imagined = False`: its clips are the simulator's own frames (the oracles), so an inverse dynamics
    # told apart where its goals come from reads them as true ones

    def imagine(self, image: np.ndarray, text: str, num_samples: int) -> np.ndarray:
        """uint8 [H, W, 3] now + subgoal text -> uint8 [K, T, H, W, 3], the T frames after `image`."""


@runtime_checkable
class InverseDynamics(Protocol):
    frame_stride: int  # env steps between the frames it reads
    # optional `follows_pusher = False`: its actions do not copy the imagined pusher's path, so the search does
    # not check that they replay it (invdyn.object_motion)

    def actions(self, frames: np.ndarray) -> np.ndarray:
        """uint8 [N+1, H, W, 3] -> float32 [N * frame_stride, action_dim], the actions joining the frames."""


@runtime_checkable
class ClosedLoopInverseDynamics(Protocol):
    """Asked for one action at every step, from what the robot senses then (invdyn.goal_reaching)."""

    frame_stride: int
    closed_loop: bool  # True

    def act(self, image: np.ndarray, proprio: np.ndarray, clip: np.ndarray, t: int,
            imagined: bool = True) -> np.ndarray:
        """The camera image and proprioception now, the imagined clip [T, H, W, 3] (frame j due (j + 1) *
        frame_stride steps after it began), the steps taken since it began, and whether a world model drew the clip
        (False: the simulator's frames, from an oracle) -> float32 [action_dim]."""


@runtime_checkable
class SubgoalPlanner(Protocol):
    def plan(self, image: np.ndarray, instruction: str) -> list[Subgoal]:
        """uint8 [H, W, 3] + instruction -> ordered subgoals (raises a DreamplanError if it cannot ground it)."""


@runtime_checkable
class Agent(Protocol):
    def run(self, robot: Robot, instruction: str,
            on_event: Callable[[str, object], None] | None = None) -> Episode:
        """Carry out `instruction` from the robot's current observation until the agent stops or the episode
        ends. `on_event(kind, payload)` hears ("plan", [Subgoal]) and ("subgoal", record) where an agent plans."""


def attach_all(env, *components) -> None:
    """Hand the live env to the components that read the simulator (oracles); the others never get it."""
    for c in components:
        if hasattr(c, "attach"):
            c.attach(env)


def close_all(*components) -> None:
    """Release what each component holds (a simulator copy's GL context); those without close() hold nothing."""
    for c in components:
        if hasattr(c, "close"):
            c.close()
