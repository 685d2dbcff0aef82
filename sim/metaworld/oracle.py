"""Meta-World's simulator oracle: the perfect video model there, as sim.oracles.SimulatorOracle is on the tabletop.
Swapped in for the DiT, it measures what inverse dynamics alone costs."""

from __future__ import annotations

import numpy as np

from sim.errors import DreamplanError
from sim.metaworld.env import MetaWorldEnv
from sim.metaworld.expert import MetaWorldExpert


class MetaWorldOracle:
    """VideoModel that 'imagines' the true future: Meta-World's scripted policy carries the task on in a copy of
    the live env (rebuilt by replaying the episode's actions) and every `frame_stride`-th frame is kept; past the
    env's step limit the last frame repeats. Deterministic, so all K samples agree. The text is not read: the
    episode's task is the one subgoal."""

    imagined = False  # its clips are the simulator's frames

    def __init__(self, horizon: int = 4, frame_stride: int = 8):
        self.horizon, self.frame_stride = horizon, frame_stride
        self._env: MetaWorldEnv | None = None
        self._copy: MetaWorldEnv | None = None

    def attach(self, env) -> None:
        self._env = env.unwrapped
        if not isinstance(self._env, MetaWorldEnv):
            raise DreamplanError("MetaWorldOracle imagines Meta-World episodes only (videomodel=oracle is the "
                                 "tabletop's)")
        if self._copy is None or self._copy.image_size != self._env.image_size:
            self._copy = MetaWorldEnv(image_size=self._env.image_size, max_steps=self._env.max_steps)

    def imagine(self, image: np.ndarray, text: str, num_samples: int) -> np.ndarray:
        if self._env is None:
            raise RuntimeError("MetaWorldOracle.imagine before attach(env): it reads the live simulator")
        self._copy.restore(self._env.snapshot())
        expert = MetaWorldExpert(self._copy.instance.task)
        frames = []
        for i in range(self.horizon * self.frame_stride):
            if self._copy.steps < self._copy.max_steps:
                self._copy.advance(expert.act_in(self._copy))
            if (i + 1) % self.frame_stride == 0:
                frames.append(self._copy.camera_image())
        return np.repeat(np.stack(frames)[None], num_samples, axis=0)

    def close(self) -> None:
        if self._copy is not None:
            self._copy.close()
