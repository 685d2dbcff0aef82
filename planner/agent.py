"""The closed loop: plan subgoals, imagine each one, read actions off the imagined frames, act, re-imagine.

For each subgoal the agent imagines K clips from the current real frame, extracts actions with inverse
dynamics, keeps the best-scoring clip (planner.search; re-sampling when none is good enough), executes the first `execute_horizon` of them (receding horizon), observes, and imagines again
until the subgoal's check passes or its step budget runs out. A subgoal that fails triggers a re-plan from
the real image (at most `max_replans` times).
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from planner.search import ClipScorer
from planner.protocols import InverseDynamics, SubgoalPlanner, VideoModel, attach_all, close_all
from sim.errors import DreamplanError
from sim.expert import ScriptedExpert
from sim.targets import Subgoal


@dataclass
class Episode:
    instruction: str
    frames: list[np.ndarray] = field(default_factory=list)  # real camera frames, one per env step (+ the first)
    actions: list[np.ndarray] = field(default_factory=list)
    imagined: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (env step it starts at, clip [T,H,W,3])
    scores: list[float] = field(default_factory=list)  # search score of each executed clip (when searching)
    subgoals: list[dict] = field(default_factory=list)  # {text, success, steps} per subgoal attempted
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # seconds per component
    success: bool = False
    failure: str | None = None  # why the agent gave up, for the user
    replans: int = 0
    info: dict = field(default_factory=dict)  # the env's last info

    @property
    def steps(self) -> int:
        return len(self.actions)


class _Stepper:
    """Executes actions in the env and records what happened into the episode."""

    def __init__(self, env, episode: Episode):
        self.env, self.episode = env, episode
        self.done = False

    def step(self, action: np.ndarray) -> np.ndarray:
        obs, _, terminated, truncated, info = self.env.step(action)
        self.episode.actions.append(np.asarray(action, np.float32))
        self.episode.frames.append(obs["image"])
        self.episode.info = info
        self.done = terminated or truncated  # truncated: the env's step budget is spent
        return obs["image"]


@contextmanager
def _timed(episode: Episode, component: str):
    t0 = time.perf_counter()
    yield
    episode.timings[component] += time.perf_counter() - t0


class ImaginationAgent:
    def __init__(
        self,
        planner: SubgoalPlanner,
        video_model: VideoModel,
        invdyn: InverseDynamics,
        execute_horizon: int = 8,
        num_samples: int = 1,
        steps_per_subgoal: int = 100,
        max_replans: int = 3,
        scorer: ClipScorer | None = None,
        min_score: float = float("-inf"),
        max_resamples: int = 0,
    ):
        if invdyn.frame_stride != video_model.frame_stride:
            raise ValueError(f"inverse dynamics reads frames {invdyn.frame_stride} steps apart but the video model "
                             f"imagines them {video_model.frame_stride} apart")
        self.planner, self.video_model, self.invdyn = planner, video_model, invdyn
        self.execute_horizon, self.num_samples = execute_horizon, num_samples
        self.steps_per_subgoal, self.max_replans = steps_per_subgoal, max_replans
        self.scorer, self.min_score, self.max_resamples = scorer, min_score, max_resamples

    def run(self, env, instruction: str | None = None, on_event: Callable[[str, object], None] | None = None) -> Episode:
        """Carry out `instruction` (default: the episode's own) in an env that has just been reset.

        `on_event(kind, payload)` hears ("plan", [Subgoal]) after every (re-)plan and ("subgoal", record) after
        every subgoal attempt -- for progress displays."""
        notify = on_event or (lambda kind, payload: None)
        base = env.unwrapped
        instruction = instruction or base.instance.instruction
        episode = Episode(instruction, frames=[base.camera_image()], info={"success": base.task_succeeded()})
        attach_all(env, self.planner, self.video_model, self.invdyn)
        stepper = _Stepper(env, episode)
        try:
            with _timed(episode, "plan"):
                plan = self.planner.plan(episode.frames[-1], instruction)
            notify("plan", list(plan))
            while not stepper.done:
                if plan:
                    subgoal = plan.pop(0)
                    reached = self._pursue(subgoal, base, stepper, episode)
                    notify("subgoal", episode.subgoals[-1])
                    if reached or stepper.done:
                        continue
                    why = episode.subgoals[-1].get("failure", f"not reached within {self.steps_per_subgoal} steps")
                    why = f"subgoal {subgoal.text!r}: {why}"
                elif episode.info.get("success", False):
                    break
                else:  # every subgoal was reached, yet a later push undid an earlier one
                    why = "plan finished but the task is not done"
                if episode.replans >= self.max_replans:
                    episode.failure = why
                    break
                episode.replans += 1
                with _timed(episode, "plan"):
                    plan = self.planner.plan(episode.frames[-1], instruction)
                notify("plan", list(plan))
        except DreamplanError as e:
            episode.failure = str(e)
        episode.success = bool(base.task_succeeded())
        if not episode.success and episode.failure is None:
            episode.failure = "step budget exhausted"
        return episode

    def close(self) -> None:
        close_all(self.planner, self.video_model, self.invdyn)

    def _imagine_best(self, image: np.ndarray, subgoal: Subgoal, episode: Episode):
        """(clip, actions, score) of the best of K imagined clips, re-sampling while none reaches `min_score`;
        None if no sample ever does."""
        for _ in range(1 + self.max_resamples):
            with _timed(episode, "imagine"):
                clips = self.video_model.imagine(image, subgoal.text, self.num_samples)
            candidates = []
            for clip in clips:
                with _timed(episode, "invdyn"):
                    actions = self.invdyn.actions(np.concatenate([image[None], clip]))
                if not np.all(np.isfinite(actions)):
                    raise DreamplanError(f"inverse dynamics returned a non-finite action for {subgoal.text!r}")
                candidates.append((clip, actions))
            if self.scorer is None:
                return (*candidates[0], None)
            with _timed(episode, "score"):
                check_replay = getattr(self.invdyn, "follows_pusher", True)
                scored = [(self.scorer.score(image, c, subgoal, a, check_replay), c, a) for c, a in candidates]
            score, clip, actions = max(scored, key=lambda t: t[0].total)
            if score.total >= self.min_score:
                return clip, actions, score
        return None

    def _pursue(self, subgoal: Subgoal, base, stepper: _Stepper, episode: Episode) -> bool:
        record = {"text": subgoal.text, "success": False, "steps": 0}
        episode.subgoals.append(record)
        reached = (lambda: base.check(subgoal.target)) if subgoal.target is not None else (lambda: False)
        while not reached() and record["steps"] < self.steps_per_subgoal and not stepper.done:
            image = episode.frames[-1]
            best = self._imagine_best(image, subgoal, episode)
            if best is None:
                record["failure"] = f"no imagined clip scored {self.min_score} or more"
                break
            clip, actions, score = best
            episode.imagined.append((episode.steps, clip))
            if score is not None:
                episode.scores.append(score.total)
            for a in actions[: self.execute_horizon]:
                with _timed(episode, "sim"):
                    stepper.step(a)
                record["steps"] += 1
                if stepper.done or reached():
                    break
        record["success"] = bool(reached())
        return record["success"]


class ExpertAgent:
    """The scripted expert acting directly on the reference plan: the upper bound of every agent."""

    def run(self, env, instruction: str | None = None) -> Episode:
        base = env.unwrapped
        episode = Episode(instruction or base.instance.instruction, frames=[base.camera_image()])
        expert = ScriptedExpert(base.subgoals, max_step=base.max_step)
        stepper = _Stepper(env, episode)
        while not stepper.done:
            with _timed(episode, "expert"):
                action = expert.act_in(env)
            with _timed(episode, "sim"):
                stepper.step(action)
        episode.subgoals = [{"text": t.text, "success": bool(s), "steps": None}
                            for t, s in zip(base.subgoals, episode.info["subgoal_success"])]
        episode.success = bool(base.task_succeeded())
        if not episode.success:
            episode.failure = "step budget exhausted"
        return episode
