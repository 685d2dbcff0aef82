"""Scripted experts: a closed-loop pushing controller for every subgoal target.

To move a block to a goal the pusher gets behind it (on the far side from the goal) along a collision-free
path around the blocks (sim.pathing), then pushes along the block-goal line while correcting sideways drift. If the block's own
straight path would hit another block, it is pushed along a planned path around them, one leg at a time.
Everything is recomputed from the current state each step, so the controller recovers from slips.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from sim.pathing import GridPlanner
from sim.scene import BLOCK_HALF, PUSHER_RADIUS, PUSHER_RANGE, WORKSPACE_HALF, Block
from sim.targets import Target

CONTACT = BLOCK_HALF + PUSHER_RADIUS + 0.004  # pusher-to-block centre distance when pushing a face
CLEARANCE = BLOCK_HALF * np.sqrt(2) + PUSHER_RADIUS + 0.012  # pusher keeps this far from a block corner in transit
BLOCK_CLEARANCE = 2 * BLOCK_HALF * 1.2  # a pushed block's path keeps this far from other blocks' centres
GOAL_TOLERANCE = 0.015


def push_action(
    pusher: np.ndarray,
    block: np.ndarray,
    goal: np.ndarray,
    others: Sequence[np.ndarray],
    max_step: float,
    pusher_planner: GridPlanner,
    block_planner: GridPlanner | None,
) -> np.ndarray:
    """One action in [-1, 1]^2 that moves the block at `block` towards the point `goal`, around `others`."""
    b = np.asarray(block, dtype=float)
    others = [np.asarray(p, dtype=float) for p in others]
    final = np.asarray(goal, dtype=float)
    goal = block_planner.waypoint(b, final, others, BLOCK_CLEARANCE) if block_planner else final
    if goal is None:  # no free path for the block: push straight and let it shove the others
        goal = final
    e = goal - b
    dist = float(np.linalg.norm(e))
    if dist < 1e-6:
        return np.zeros(2, dtype=np.float32)
    u = e / dist
    rel = pusher - b
    along = float(rel @ u)
    lateral = rel - along * u
    if along < -(CONTACT - 0.012) and np.linalg.norm(lateral) < 0.012 + 0.25 * (abs(along) - CONTACT):
        step = min(max_step, dist + 0.004)
        desired = pusher + u * step - 0.7 * lateral  # push on, and pull back onto the block-goal line
    else:
        lim = pusher_planner.half
        approach = b - u * (CLEARANCE + 0.012)  # outside every block's clearance disc
        desired = None
        if np.all(np.abs(approach) <= lim):
            desired = pusher_planner.waypoint(pusher, approach, [b, *others], CLEARANCE)
        if desired is None:
            # the approach point is off the table or crowded: come to the block's back hugging it closely
            radii = [CONTACT - 0.006] + [CLEARANCE] * len(others)
            desired = pusher_planner.waypoint(pusher, b - u * CONTACT, [b, *others], radii)
        if desired is None:  # boxed in: head straight for the block's back
            desired = b - u * CONTACT
    return np.clip((desired - pusher) / max_step, -1.0, 1.0).astype(np.float32)


def target_reached(target: Target, positions: Mapping[Block, np.ndarray]) -> bool:
    """Stricter than `Target.satisfied`: the expert keeps pushing until the block is at its goal point."""
    if not target.satisfied(positions):
        return False
    return float(np.linalg.norm(np.asarray(positions[target.block]) - target.goal(positions))) < GOAL_TOLERANCE * 2


class ScriptedExpert:
    """Carries out a list of targets in order; `index` is the subgoal currently being worked on."""

    def __init__(self, targets: Sequence[Target], max_step: float = 0.02):
        self.targets = list(targets)
        self.max_step = max_step
        self.index = 0
        self.pusher_planner = GridPlanner(PUSHER_RANGE)
        self.block_planner = GridPlanner(WORKSPACE_HALF)

    @property
    def finished(self) -> bool:
        return self.index >= len(self.targets)

    def act(self, pusher: np.ndarray, positions: Mapping[Block, np.ndarray]) -> np.ndarray:
        while not self.finished and target_reached(self.targets[self.index], positions):
            self.index += 1
        if self.finished:  # a later push may have knocked an earlier block out of place: redo that subgoal
            undone = [i for i, t in enumerate(self.targets) if not t.satisfied(positions)]
            if not undone:
                return np.zeros(2, dtype=np.float32)
            self.index = undone[0]
        target = self.targets[self.index]
        others = [p for blk, p in positions.items() if blk != target.block]
        return push_action(pusher, positions[target.block], target.goal(positions), others, self.max_step,
                           self.pusher_planner, self.block_planner)

    def act_in(self, env) -> np.ndarray:
        """Convenience: read pusher and block positions from a (possibly wrapped) TabletopEnv."""
        base = env.unwrapped
        return self.act(base.pusher_position(), base.block_positions())
