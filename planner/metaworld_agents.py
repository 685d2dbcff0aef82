"""Agents and planners for Meta-World (sim.metaworld): the scripted-policy upper bound, and the one-subgoal plan.

`MetaWorldExpertAgent` runs Meta-World's own scripted policy: our upper bound on v3. `TaskTextPlanner` gives the
plan AVDC uses, one subgoal whose text is the task ("door open"); with it, `planner.agent.ImaginationAgent` runs on
a MetaWorldEnv unchanged (see configs/agent/metaworld_imagine.yaml) once a video model and an inverse-dynamics
model trained on Meta-World data (4-D actions) exist.
"""

from __future__ import annotations

import numpy as np

from planner.agent import Episode, _Stepper, _timed
from sim.metaworld.expert import MetaWorldExpert
from sim.targets import Subgoal


class MetaWorldExpertAgent:
    """Meta-World's scripted policy for the episode's task, until success or the env's step limit."""

    def run(self, env, instruction: str | None = None) -> Episode:
        base = env.unwrapped
        episode = Episode(instruction or base.instance.instruction, frames=[base.camera_image()])
        expert = MetaWorldExpert(base.instance.task)
        stepper = _Stepper(env, episode)
        while not stepper.done:
            with _timed(episode, "expert"):
                action = expert.act_in(env)
            with _timed(episode, "sim"):
                stepper.step(action)
        episode.success = bool(base.task_succeeded())
        episode.subgoals = [{"text": episode.instruction, "success": episode.success, "steps": episode.steps}]
        if not episode.success:
            episode.failure = f"no success within {base.max_steps} steps"
        return episode


class TaskTextPlanner:
    """AVDC's plan: the instruction itself is the one subgoal (no machine-checkable target: the env judges)."""

    def plan(self, image: np.ndarray, instruction: str) -> list[Subgoal]:
        return [Subgoal(instruction)]
