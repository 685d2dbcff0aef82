"""Oracle agents: the scripted experts, acting on what the simulator knows. They bound every other agent.

Both read the live simulator through `attach(env)`, and are named as oracles wherever their results appear.
"""

from __future__ import annotations

from typing import Callable

from dreamplan.episode import Episode, Stepper, timed
from dreamplan.robot import Robot
from sim.expert import ScriptedExpert
from sim.metaworld.expert import MetaWorldExpert


class _OracleAgent:
    def __init__(self):
        self._env = None

    def attach(self, env) -> None:
        self._env = env

    def _expert(self):
        raise NotImplementedError

    def run(self, robot: Robot, instruction: str, on_event: Callable[[str, object], None] | None = None) -> Episode:
        if self._env is None:
            raise RuntimeError(f"{type(self).__name__} reads the simulator: attach(env) first")
        episode = Episode(instruction, frames=[robot.image])
        expert = self._expert()
        stepper = Stepper(robot, episode)
        while not stepper.done:
            with timed(episode, "expert"):
                action = expert.act_in(self._env)
            with timed(episode, "sim"):
                stepper.step(action)
        return episode


class ExpertAgent(_OracleAgent):
    """The tabletop's scripted expert acting on the task's reference plan."""

    def _expert(self):
        base = self._env.unwrapped
        return ScriptedExpert(base.subgoals, max_step=base.max_step)


class MetaWorldExpertAgent(_OracleAgent):
    """Meta-World's own scripted policy for the episode's task (metaworld.policies), until success or the step
    limit."""

    def _expert(self):
        return MetaWorldExpert(self._env.unwrapped.instance.task)
