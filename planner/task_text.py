"""AVDC's plan for Meta-World: the instruction itself is the one subgoal."""

from __future__ import annotations

import numpy as np

from sim.targets import Subgoal


class TaskTextPlanner:
    """AVDC's plan: the instruction itself is the one subgoal (no machine-checkable target: the env judges)."""

    def plan(self, image: np.ndarray, instruction: str) -> list[Subgoal]:
        return [Subgoal(instruction)]
