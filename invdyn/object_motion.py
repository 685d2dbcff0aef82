"""Inverse dynamics from object motion (AVDC-style): see where the imagined clip moves a block, and push it there.

AVDC (Ko et al., "Learning to Act from Actionless Videos through Dense Correspondences", 2023) reads the
*object's* motion off a generated video and lets a controller make the object follow it, instead of reading the
robot's own motion off the frames. Here the block detector finds the blocks in the real first frame and in the
clip's last frame; the block the clip moves farthest is the one to push, and where the clip leaves it is where to
push it. The scripted expert's pushing controller (sim.expert.push_action: around the other blocks, behind the
block, along the push line) gives the actions, rolled out over the clip's steps on a kinematic model of the push
(a block the pusher runs into is shoved ahead of it). A clip in which no block moves is read by the pusher
tracker instead (it shows the pusher getting into place).

It lives in planner/ because it needs the simulator package's detector and controller, which invdyn/ may not
import. It never sees the simulator's state: only the frames, like every inverse dynamics.
"""

from __future__ import annotations

import numpy as np

from invdyn.pusher_tracker import PusherTracker
from sim.detector import Detection, by_color, detect_blocks, pusher_position
from sim.expert import CONTACT, push_action
from sim.pathing import GridPlanner
from sim.scene import PUSHER_RANGE, WORKSPACE_HALF


def match_blocks(first: list[Detection], last: list[Detection]) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(xy in the first frame, xy in the last frame or None if it vanished) for every block of the first frame.

    Blocks of one color are matched largest to largest (a cube's top is larger than a cylinder's) when both frames
    show the same number of them, else each to the nearest of its color."""
    pairs, seen_first, seen_last = [], by_color(first), by_color(last)
    for color in sorted(seen_first):
        a, b = seen_first[color], seen_last.get(color, [])
        if len(a) == len(b):
            pairs += [(x.xy, y.xy) for x, y in zip(a, b)]
        else:
            pairs += [(x.xy, min((y.xy for y in b), key=lambda xy: np.linalg.norm(xy - x.xy), default=None))
                      for x in a]
    return pairs


class ObjectMotionInverseDynamics:
    follows_pusher = False  # the search does not check its actions against the imagined pusher's path

    def __init__(self, frame_stride: int = 4, max_step: float = 0.02, min_motion: float = 0.015):
        self.frame_stride, self.max_step, self.min_motion = frame_stride, max_step, min_motion
        self.tracker = PusherTracker(frame_stride, max_step)
        self.pusher_planner = GridPlanner(PUSHER_RANGE)
        self.block_planner = GridPlanner(WORKSPACE_HALF)

    def actions(self, frames: np.ndarray) -> np.ndarray:
        steps = (len(frames) - 1) * self.frame_stride
        pusher = pusher_position(frames[0])
        pairs = [(a, b) for a, b in match_blocks(detect_blocks(frames[0]), detect_blocks(frames[-1])) if b is not None]
        moves = [float(np.linalg.norm(b - a)) for a, b in pairs]
        if pusher is None or not moves or max(moves) < self.min_motion:
            return self.tracker.actions(frames)
        moved = int(np.argmax(moves))
        block, goal = pairs[moved]
        others = [a for i, (a, _) in enumerate(pairs) if i != moved]
        return self.rollout(pusher, block, goal, others, steps)

    def rollout(self, pusher: np.ndarray, block: np.ndarray, goal: np.ndarray, others: list[np.ndarray],
                steps: int) -> np.ndarray:
        """`steps` actions of the pushing controller, each applied to a kinematic push model before the next."""
        pusher, block = np.asarray(pusher, float).copy(), np.asarray(block, float).copy()
        out = np.zeros((steps, 2), np.float32)
        for i in range(steps):
            out[i] = push_action(pusher, block, goal, others, self.max_step, self.pusher_planner, self.block_planner)
            pusher = pusher + out[i] * self.max_step
            gap = pusher - block
            dist = float(np.linalg.norm(gap))
            if dist < CONTACT:  # the pusher ran into the block: it slides ahead, out of the pusher's way
                block = pusher - gap / max(dist, 1e-9) * CONTACT
        return out
