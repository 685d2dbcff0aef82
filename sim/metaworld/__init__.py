"""Meta-World v3 as an outside benchmark (the optional extra `pip install -e '.[metaworld]'`, mujoco==3.3.0).

Nothing here imports `metaworld` at import time: `require_metaworld()` does, lazily, and says how to install it
when it is missing. The task list, cameras and evaluation seeds follow AVDC (Ko et al. 2023), so our numbers
sit next to theirs: 11 tasks x 3 cameras x seeds 0-24, success if the env reports it within 500 steps.
"""

from __future__ import annotations

from sim.errors import DreamplanError

# AVDC's 11 Meta-World tasks, in the order of their table.
AVDC_TASKS = ("door-open", "door-close", "basketball", "shelf-place", "button-press", "button-press-topdown",
              "faucet-close", "faucet-open", "handle-press", "hammer", "assembly")
CAMERAS = ("corner", "corner2", "corner3")
EVAL_SEEDS = range(25)  # AVDC evaluates seeds 0-24 per task and camera; recordings must use other seeds
MAX_STEPS = 500  # Meta-World's max_path_length: success must come within this many steps
VERSION = "v3"


class MetaWorldMissing(DreamplanError):
    """The optional `metaworld` package is not installed."""


def require_metaworld():
    """Import and return the `metaworld` package, or raise a one-line error saying how to install it."""
    try:
        import metaworld
    except ImportError as e:
        raise MetaWorldMissing(
            f"Meta-World is not installed ({e.msg}); install the extra in its own venv: "
            "pip install -e '.[metaworld]' (metaworld 3.1.1, which pins mujoco==3.3.0)") from None
    return metaworld


def canonical_task(task: str) -> str:
    """'door-open' or 'door-open-v3' -> 'door-open'."""
    name = str(task).strip()
    suffix = f"-{VERSION}"
    return name[: -len(suffix)] if name.endswith(suffix) else name


def env_name(task: str) -> str:
    """'door-open' -> 'door-open-v3' (Meta-World's name)."""
    return f"{canonical_task(task)}-{VERSION}"


def task_text(task: str) -> str:
    """The instruction AVDC conditions on: the task name in words ('door-open' -> 'door open')."""
    return canonical_task(task).replace("-", " ")


__all__ = ["ENV_ID", "AVDC_TASKS", "CAMERAS", "EVAL_SEEDS", "MAX_STEPS", "MetaWorldMissing", "require_metaworld",
           "canonical_task", "env_name", "task_text"]

import gymnasium as _gym  # noqa: E402

ENV_ID = "dreamplan/MetaWorld-v0"
if ENV_ID not in _gym.registry:
    _gym.register(ENV_ID, entry_point="sim.metaworld.env:MetaWorldEnv")
