"""The oracle planner: the task's reference decomposition of the live scene, read from the simulator."""

from __future__ import annotations

import numpy as np

from sim.errors import DreamplanError, elided
from sim.targets import Subgoal
from sim.tasks import get_task


class ScriptedPlanner:
    """SubgoalPlanner that reads the reference decomposition of the live scene (ignores the image)."""

    def attach(self, env) -> None:
        self._env = env.unwrapped

    def plan(self, image: np.ndarray, instruction: str) -> list[Subgoal]:
        inst = self._env.instance
        if instruction != inst.instruction:
            raise DreamplanError("the scripted planner only knows this episode's instruction "
                                 f"({elided(inst.instruction)!r})")
        # decomposed from the current state, so a re-plan after a failure skips what is already done
        targets = get_task(inst.task).decompose(inst.params, inst.blocks, self._env.block_positions())
        return [Subgoal(t.text, t) for t in targets]
