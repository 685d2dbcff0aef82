"""What an agent may use of an environment: the one place that declares it (design.md, "What an agent may see").

A real robot has a camera, its own joint sensors and its motors. `Robot` gives an agent exactly those: the camera
image, proprioception (the tabletop pusher's position; Meta-World's hand position and gripper opening), and
`step(action)`. It also says when the episode has ended, as a benchmark's rules end it (on success, or when the
step budget is spent). It does not give the simulator's object state, the task's reference plan or its success
predicate: those score episodes (dreamplan.episode), and oracles get them only through `attach(env)`.
"""

from __future__ import annotations

import numpy as np

OBSERVED = ("image", "proprio")  # the observation keys an agent sees


class Robot:
    def __init__(self, env, observation: dict):
        self._env = env
        self._obs = {k: observation[k] for k in OBSERVED}
        self._ended = False

    @property
    def image(self) -> np.ndarray:
        """uint8 [H, W, 3]: what the camera sees now."""
        return self._obs["image"]

    @property
    def proprio(self) -> np.ndarray:
        """float32: the robot's own sensors."""
        return self._obs["proprio"]

    @property
    def ended(self) -> bool:
        """The episode is over (the benchmark ended it): no more actions are taken."""
        return self._ended

    def step(self, action: np.ndarray) -> dict:
        """Execute one action; the new observation {"image", "proprio"}."""
        if self._ended:
            raise RuntimeError("the episode has ended; no more actions")
        obs, _, terminated, truncated, _ = self._env.step(action)
        self._obs = {k: obs[k] for k in OBSERVED}
        self._ended = bool(terminated or truncated)
        return dict(self._obs)
