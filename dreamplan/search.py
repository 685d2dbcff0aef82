"""Search over imagined futures: score K imagined clips for a subgoal and keep the best.

A clip scores well when, read by the block detector, its last frame gets the subgoal's block closer to the
goal (1.0 = the subgoal holds at the end), when nothing in it breaks physics (a block appearing, vanishing,
moving untouched, or overlapping another), and when the actions read off it replay it: the bounded actions,
integrated, move the pusher where the clip shows it (a pusher that jumps faster than it can move, or
vanishes, is not a plan the robot can follow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dreamplan.perception import detected_positions
from sim.detector import detect_blocks, pusher_position
from sim.targets import Subgoal
from videomodel.fidelity import physics_violations


@dataclass
class ClipScore:
    total: float
    progress: float  # fraction of the way to the goal in the imagined clip (1.0: subgoal holds at its end)
    violations: int
    replay_error: float  # metres between the pusher's imagined path and the one its actions would give


class ClipScorer:
    def __init__(self, frame_stride: int = 4, max_step: float = 0.02, violation_penalty: float = 0.25,
                 replay_penalty_per_cm: float = 0.1):
        self.frame_stride, self.max_step = frame_stride, max_step
        self.violation_penalty, self.replay_penalty_per_cm = violation_penalty, replay_penalty_per_cm

    def replay_error(self, frames: np.ndarray, actions: np.ndarray) -> float:
        """Mean distance (m) between each imagined pusher step and what the (bounded) actions would move it."""
        pusher = [pusher_position(f) for f in frames]
        moves = np.clip(actions, -1, 1).reshape(len(frames) - 1, self.frame_stride, -1)[..., :2].sum(1) * self.max_step
        errs = [np.linalg.norm((b - a) - m) if a is not None and b is not None else 0.1
                for a, b, m in zip(pusher, pusher[1:], moves)]
        return float(np.mean(errs))

    def progress(self, first: np.ndarray, last: np.ndarray, subgoal: Subgoal) -> float:
        target = subgoal.target
        if target is None:
            return 0.0
        start, end = detected_positions(detect_blocks(first)), detected_positions(detect_blocks(last))
        if any(b not in start for b in target.blocks):
            return 0.0
        if any(b not in end for b in target.blocks):
            return -1.0  # the block the subgoal is about vanished
        if target.satisfied(end):
            return 1.0
        d0 = np.linalg.norm(start[target.block] - target.goal(start))
        d1 = np.linalg.norm(end[target.block] - target.goal(end))
        return float(np.clip((d0 - d1) / max(d0, 1e-6), -1.0, 0.99))

    def score(self, image: np.ndarray, clip: np.ndarray, subgoal: Subgoal, actions: np.ndarray | None,
              check_replay: bool = True) -> ClipScore:
        """`check_replay=False` for actions that do not copy the imagined pusher's path (invdyn.object_motion
        pushes the imagined *block*): the replay error is then not measured, and `actions` may be None."""
        frames = np.concatenate([image[None], clip])
        progress = self.progress(image, clip[-1], subgoal)
        violations = sum(physics_violations(frames).values())
        replay = self.replay_error(frames, actions) if check_replay else 0.0
        total = progress - self.violation_penalty * violations - self.replay_penalty_per_cm * 100 * replay
        return ClipScore(total, progress, violations, replay)
