"""An episode: what an agent did and saw, and how the environment scored it.

`run_episode` is the one way an episode is played (dreamplan run, eval, the tests): it hands the oracles the
live env, gives the agent a `Robot`, and afterwards scores the episode with the env's own checks, which the agent
never reads.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dreamplan.robot import Robot
from training.rng import seed_everything


@dataclass
class Episode:
    instruction: str
    frames: list[np.ndarray] = field(default_factory=list)  # real camera frames, one per env step (+ the first)
    actions: list[np.ndarray] = field(default_factory=list)
    imagined: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (env step it starts at, clip [T,H,W,3])
    scores: list[float] = field(default_factory=list)  # search score of each executed clip (when searching)
    subgoals: list[dict] = field(default_factory=list)  # {text, success, steps} per subgoal attempted
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # seconds per component
    failure: str | None = None  # why the agent gave up, for the user
    replans: int = 0
    # filled by run_episode from the env's checks, after the agent is done:
    success: bool = False
    subgoal_success: list[bool] = field(default_factory=list)  # per reference subgoal, reached in order

    @property
    def steps(self) -> int:
        return len(self.actions)


class Stepper:
    """Executes actions on the robot and records what happened into the episode."""

    def __init__(self, robot: Robot, episode: Episode):
        self.robot, self.episode = robot, episode

    @property
    def done(self) -> bool:
        return self.robot.ended

    def step(self, action: np.ndarray) -> np.ndarray:
        obs = self.robot.step(action)
        self.episode.actions.append(np.asarray(action, np.float32))
        self.episode.frames.append(obs["image"])
        return obs["image"]


@contextmanager
def timed(episode: Episode, component: str):
    t0 = time.perf_counter()
    yield
    episode.timings[component] += time.perf_counter() - t0


def run_episode(env, observation: dict, agent, instruction: str,
                on_event: Callable[[str, object], None] | None = None) -> Episode:
    """Let `agent` carry out `instruction` in `env`, just reset to `observation`; score it with the env's checks."""
    if hasattr(agent, "attach"):
        agent.attach(env)  # an oracle agent (or one holding oracle components) reads the live simulator
    robot = Robot(env, observation)
    episode = agent.run(robot, instruction, on_event=on_event)
    base = env.unwrapped
    episode.success = bool(base.task_succeeded())
    episode.subgoal_success = [bool(s) for s in base.subgoal_progress]
    if episode.success:
        episode.failure = None
    elif episode.failure is None:
        episode.failure = "step budget exhausted" if robot.ended else "the agent stopped before the task was done"
    return episode


def plan_holds(env, plan) -> bool:
    """Scoring when no task asks what the instruction asks: whether every subgoal of the agent's `plan` holds in
    the env now (the simulator's own check, read after the agent is done)."""
    base = env.unwrapped
    return bool(plan) and all(sg.target is not None and base.check(sg.target) for sg in plan)


def start(env, seed: int, options: dict) -> tuple[dict, dict]:
    """Reset `env` to the seeded scene `options` pick; (observation, info). The seed also seeds torch and numpy,
    so a sampling world model imagines the same clips for the same episode whichever process runs it, and
    whatever it ran before."""
    obs, info = env.reset(seed=seed, options=options)
    seed_everything(seed)
    return obs, info


def play(env, agent, seed: int, options: dict, instruction: str | None = None,
         on_event: Callable[[str, object], None] | None = None) -> tuple[Episode, dict]:
    """One scored episode in the seeded scene `options` pick: (episode, the reset's info)."""
    obs, info = start(env, seed, options)
    return run_episode(env, obs, agent, instruction or info["instruction"], on_event), info
