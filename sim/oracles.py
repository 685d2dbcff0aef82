"""The tabletop's simulator oracle: a perfect world model that reads the live simulator.

Oracles bound what the learned components can reach, and let evaluation attribute a failure to the box that
caused it (swap one box for its oracle, see whether the episode succeeds).
"""

from __future__ import annotations

import numpy as np

from sim.env import TabletopEnv
from sim.expert import ScriptedExpert
from sim.targets import parse_subgoal


class SimulatorOracle:
    """VideoModel that 'imagines' the true future: the scripted expert carries out the subgoal in a copy of
    the live simulator and every `frame_stride`-th frame is kept. Deterministic, so all K samples agree."""

    imagined = False  # its clips are the simulator's frames

    def __init__(self, horizon: int = 7, frame_stride: int = 4):
        self.horizon, self.frame_stride = horizon, frame_stride
        self._env: TabletopEnv | None = None
        self._copy: TabletopEnv | None = None

    def attach(self, env) -> None:
        self._env = env.unwrapped
        if self._copy is None or self._copy.image_size != self._env.image_size:
            self._copy = TabletopEnv(image_size=self._env.image_size, max_step=self._env.max_step)

    def imagine(self, image: np.ndarray, text: str, num_samples: int) -> np.ndarray:
        if self._env is None:
            raise RuntimeError("SimulatorOracle.imagine before attach(env): it reads the live simulator")
        target = parse_subgoal(text, self._env.blocks)
        self._copy.restore(self._env.snapshot())
        expert = ScriptedExpert([target], max_step=self._copy.max_step)
        frames = []
        for i in range(self.horizon * self.frame_stride):
            obs, *_ = self._copy.step(expert.act_in(self._copy))
            if (i + 1) % self.frame_stride == 0:
                frames.append(obs["image"])
        return np.repeat(np.stack(frames)[None], num_samples, axis=0)

    def close(self) -> None:
        if self._copy is not None:
            self._copy.close()
