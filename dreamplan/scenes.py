"""Which table a sentence is played on, apart from the sentence: a task's seeded scene (`task=`), a saved
scene (`scene=path.json`, written by `dreamplan eval` for every episode and by `dreamplan scene`), or by
default a scene of the task the planner's own reading of the sentence implies.

Whether the episode can be scored by a task's success predicate depends on that choice: it can when the scene's
task instance is what the sentence asks (read by planner.instruction_matching, the words the planner itself
goes by); otherwise the episode is scored by whether the subgoals of the agent's last plan hold at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

from planner.instruction_matching import InstructionMatcher
from sim.errors import DreamplanError, elided
from sim.tasks import get_task, match_instruction, meets
from training.atomic import atomic_write


def reading(instruction: str, matcher: InstructionMatcher | None = None) -> tuple[str, dict] | None:
    """(task, slot words) the sentence asks for, as the planner reads it; None if it finds no task."""
    asked = (matcher or InstructionMatcher())(instruction)
    return match_instruction(asked) if asked else None


def load_scene(path: str | Path) -> dict:
    """Reset options from a scene file (`dreamplan scene`) or an eval's episode record (its "scene")."""
    path = Path(path)
    try:
        scene = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no scene file {path} (write one with `dreamplan scene task=... seed=... out={path}`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DreamplanError(f"{path} is not a scene file (JSON): {e}") from None
    if isinstance(scene, dict) and isinstance(scene.get("scene"), dict):  # an eval's episode record
        scene = scene["scene"]
    if not isinstance(scene, dict) or not {"instance", "positions"} <= set(scene):
        raise DreamplanError(f"{path} is not a scene file: it needs 'instance' and 'positions' "
                             "(as `dreamplan scene` writes)")
    return scene


def save_scene(path: str | Path, env) -> Path:
    path = Path(path)
    atomic_write(path, json.dumps(env.unwrapped.scene(), indent=1) + "\n")
    return path


def scene_options(instruction: str, task: str | None = None, scene: str | Path | None = None,
                  env_has_scenes: bool = True) -> tuple[dict, str | None]:
    """(env reset options, the task whose predicate scores the episode, or None: the plan's subgoals do)."""
    if not env_has_scenes:  # e.g. Meta-World: its tasks are picked by name
        return ({"task": task} if task else {"instruction": instruction}), task or "named"
    read = reading(instruction)
    if scene is not None:
        options = load_scene(scene)
        inst = options["instance"]
        fits = read is not None and read[0] == inst["task"] and _fits(inst, read[1])
        return options, inst["task"] if fits else None
    if task is not None:
        get_task(task)  # a one-line error for an unknown task
        if read is not None and read[0] == task:
            return {"task": task, "words": read[1]}, task
        return {"task": task}, None
    if read is None:
        raise DreamplanError(f"the planner finds no task in {elided(instruction)!r} to choose a scene by; "
                             "pick one with task=... or scene=path.json")
    return {"task": read[0], "words": read[1]}, read[0]


def _fits(instance: dict, words: dict) -> bool:
    from sim.scene import Block
    from sim.tasks import Instance

    blocks = tuple(Block(*b) for b in instance["blocks"])
    return meets(Instance(instance["task"], blocks, instance.get("params", {}), ""), words)


__all__ = ["reading", "load_scene", "save_scene", "scene_options"]
