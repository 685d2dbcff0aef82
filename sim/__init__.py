"""The tabletop world: MuJoCo scene, Gymnasium environments, language tasks, scripted experts, datasets."""

import os

# Headless by default; must be set before mujoco is first imported. Override with MUJOCO_GL=osmesa.
os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402

from sim.scene import COLORS, SHAPES, Block  # noqa: E402
from sim.targets import GroundingError, Subgoal, Target, parse_subgoal  # noqa: E402
from sim.tasks import LONG_HORIZON, SINGLE_STEP, SPLITS, TASKS  # noqa: E402

ENV_ID = "dreamplan/Tabletop-v0"


def _camel(task_id: str) -> str:
    return "".join(w.capitalize() for w in task_id.split("_"))


def task_env_id(task_id: str) -> str:
    return f"dreamplan/Tabletop-{_camel(task_id)}-v0"


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point="sim.env:TabletopEnv")
    for _task in TASKS:
        gym.register(task_env_id(_task), entry_point="sim.env:TabletopEnv", kwargs={"task": _task})

__all__ = ["ENV_ID", "task_env_id", "Block", "COLORS", "SHAPES", "Target", "Subgoal", "GroundingError",
           "parse_subgoal", "TASKS", "SPLITS", "SINGLE_STEP", "LONG_HORIZON"]
