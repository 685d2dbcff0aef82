"""The closed loop: plan subgoals, imagine each one, read actions off the imagined frames, act, re-imagine.

For each subgoal the agent imagines K clips from the current camera image, extracts actions with inverse
dynamics, keeps the best-scoring clip (dreamplan.search; re-sampling when none is good enough), executes the first
`execute_horizon` of them (receding horizon), looks again, and imagines again until it sees the subgoal done or
its step budget runs out. A closed-loop inverse dynamics (invdyn.goal_reaching) is instead asked for each action
as it is taken, from the real camera image and proprioception then and the imagined frames still ahead; the search
then scores the K clips on what they show alone (no actions exist to replay yet). A subgoal that fails, or a
finished plan whose subgoals no longer all hold, triggers a re-plan from the camera image (at most `max_replans`
times).

Whether a subgoal is done is judged from the camera image (`done_check="pixels"`: the block detector on the real
frame, against the target the planner's own answer names; it must still hold with the block shifted `done_margin`
either way, the detector's error). `done_check="simulator"` reads the simulator instead: a privileged ablation,
reported as such.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dreamplan.episode import Episode, Stepper, timed
from dreamplan.protocols import (ClosedLoopInverseDynamics, InverseDynamics, SubgoalPlanner, VideoModel, attach_all,
                                 close_all)
from dreamplan.robot import Robot
from dreamplan.perception import subgoal_holds, unseen_blocks
from dreamplan.search import ClipScorer
from sim.errors import DreamplanError
from sim.targets import GroundingError, Subgoal

DONE_CHECKS = ("pixels", "simulator")


class ImaginationAgent:
    def __init__(
        self,
        planner: SubgoalPlanner,
        video_model: VideoModel,
        invdyn: InverseDynamics | ClosedLoopInverseDynamics,
        execute_horizon: int = 8,
        num_samples: int = 1,
        steps_per_subgoal: int = 100,
        max_replans: int = 3,
        scorer: ClipScorer | None = None,
        min_score: float = float("-inf"),
        max_resamples: int = 0,
        done_check: str = "pixels",
        done_margin: float = 0.0,
    ):
        if invdyn.frame_stride != video_model.frame_stride:
            raise ValueError(f"inverse dynamics reads frames {invdyn.frame_stride} steps apart but the video model "
                             f"imagines them {video_model.frame_stride} apart")
        self.closed_loop = bool(getattr(invdyn, "closed_loop", False))
        if done_check not in DONE_CHECKS:
            raise ValueError(f"done_check must be one of {', '.join(DONE_CHECKS)}, got {done_check!r}")
        self.planner, self.video_model, self.invdyn = planner, video_model, invdyn
        self.execute_horizon, self.num_samples = execute_horizon, num_samples
        self.steps_per_subgoal, self.max_replans = steps_per_subgoal, max_replans
        self.scorer, self.min_score, self.max_resamples = scorer, min_score, max_resamples
        self.done_check, self.done_margin = done_check, done_margin
        self._simulator = None  # the live env, read only with done_check="simulator"

    def attach(self, env) -> None:
        attach_all(env, self.planner, self.video_model, self.invdyn)
        self._simulator = env.unwrapped if self.done_check == "simulator" else None

    def run(self, robot: Robot, instruction: str, on_event: Callable[[str, object], None] | None = None) -> Episode:
        """Carry out `instruction` from the robot's current camera image.

        `on_event(kind, payload)` hears ("plan", [Subgoal]) after every (re-)plan and ("subgoal", record) after
        every subgoal attempt -- for progress displays."""
        if self.done_check == "simulator" and self._simulator is None:
            raise RuntimeError("done_check='simulator' reads the live simulator: attach(env) first")
        notify = on_event or (lambda kind, payload: None)
        episode = Episode(instruction, frames=[robot.image])
        stepper = Stepper(robot, episode)
        try:
            with timed(episode, "plan"):
                plan = self.planner.plan(episode.frames[-1], instruction)
            notify("plan", list(plan))
            planned = list(plan)
            while not stepper.done:
                if plan:
                    subgoal = plan.pop(0)
                    reached = self._pursue(subgoal, stepper, episode)
                    notify("subgoal", episode.subgoals[-1])
                    if reached or stepper.done:
                        continue
                    why = episode.subgoals[-1].get("failure", f"not reached within {self.steps_per_subgoal} steps")
                    why = f"subgoal {subgoal.text!r}: {why}"
                elif self._task_done(planned, episode.frames[-1]):
                    break
                else:  # every subgoal was reached, yet a later push undid an earlier one
                    why = "plan finished but the task is not done"
                if episode.replans >= self.max_replans:
                    episode.failure = why
                    break
                episode.replans += 1
                with timed(episode, "plan"):
                    plan = self.planner.plan(episode.frames[-1], instruction)
                notify("plan", list(plan))
                planned = list(plan)
        except DreamplanError as e:
            episode.failure = str(e)
        return episode

    def close(self) -> None:
        close_all(self.planner, self.video_model, self.invdyn)

    def _reached(self, subgoal: Subgoal, image: np.ndarray) -> bool:
        if subgoal.target is None:
            return False  # nothing checkable: the subgoal runs until the episode ends (Meta-World's task text)
        if self.done_check == "simulator":
            return bool(subgoal.target.satisfied(self._simulator.block_positions()))
        return subgoal_holds(image, subgoal, self.done_margin)

    def _missing_blocks(self, subgoal: Subgoal, image: np.ndarray) -> list[str]:
        if subgoal.target is None:
            return []
        if self.done_check == "simulator":
            return [b.name for b in subgoal.target.blocks if b not in self._simulator.blocks]
        return unseen_blocks(image, subgoal)

    def _task_done(self, plan: list[Subgoal], image: np.ndarray) -> bool:
        """After the last subgoal: do all the plan's subgoals hold now (a later push may undo an earlier one)?"""
        if self.done_check == "simulator":
            return self._simulator.task_succeeded()
        return bool(plan) and all(self._reached(sg, image) for sg in plan)

    def _imagine_best(self, image: np.ndarray, subgoal: Subgoal, episode: Episode):
        """(clip, actions, score) of the best of K imagined clips, re-sampling while none reaches `min_score`;
        None if no sample ever does. A closed-loop inverse dynamics gives no actions up front (None)."""
        # an inverse dynamics that does not copy the imagined pusher (object motion) or that chooses its actions
        # while acting (closed loop) plays no part in the score, so only the kept clip is read, if at all
        check_replay = getattr(self.invdyn, "follows_pusher", True) and not self.closed_loop
        for _ in range(1 + self.max_resamples):
            with timed(episode, "imagine"):
                clips = self.video_model.imagine(image, subgoal.text, self.num_samples)
            if self.scorer is None:
                return clips[0], self._actions(image, clips[0], subgoal, episode), None
            scored = []
            for clip in clips:
                actions = self._actions(image, clip, subgoal, episode) if check_replay else None
                with timed(episode, "score"):
                    scored.append((self.scorer.score(image, clip, subgoal, actions, check_replay), clip, actions))
            score, clip, actions = max(scored, key=lambda t: t[0].total)
            if score.total >= self.min_score:
                return clip, self._actions(image, clip, subgoal, episode) if actions is None else actions, score
        return None

    def _actions(self, image: np.ndarray, clip: np.ndarray, subgoal: Subgoal, episode: Episode) -> np.ndarray | None:
        """The actions read off the whole clip; None for a closed-loop inverse dynamics, which gives one per step
        while acting (`_act`)."""
        if self.closed_loop:
            return None
        with timed(episode, "invdyn"):
            actions = self.invdyn.actions(np.concatenate([image[None], clip]))
        if not np.all(np.isfinite(actions)):
            raise DreamplanError(f"inverse dynamics returned a non-finite action for {subgoal.text!r}")
        return actions

    def _act(self, stepper: Stepper, clip: np.ndarray, t: int, episode: Episode) -> np.ndarray:
        with timed(episode, "invdyn"):
            action = self.invdyn.act(stepper.robot.image, stepper.robot.proprio, clip, t,
                                     imagined=getattr(self.video_model, "imagined", True))
        if not np.all(np.isfinite(action)):
            raise DreamplanError("inverse dynamics returned a non-finite action")
        return action

    def _pursue(self, subgoal: Subgoal, stepper: Stepper, episode: Episode) -> bool:
        record = {"text": subgoal.text, "success": False, "steps": 0}
        episode.subgoals.append(record)
        missing = self._missing_blocks(subgoal, episode.frames[-1])
        if missing:
            raise GroundingError(f"subgoal {subgoal.text!r} names {', '.join(missing)}, which is not on the table")

        def reached() -> bool:
            with timed(episode, "done_check"):
                return self._reached(subgoal, episode.frames[-1])

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
            n = len(clip) * self.video_model.frame_stride if actions is None else len(actions)
            for t in range(min(self.execute_horizon, n)):
                a = actions[t] if actions is not None else self._act(stepper, clip, t, episode)
                with timed(episode, "sim"):
                    stepper.step(a)
                record["steps"] += 1
                if stepper.done or reached():
                    break
        record["success"] = bool(reached())
        return record["success"]
