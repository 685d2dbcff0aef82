"""What the agent reads off a camera frame: where each block is, and whether a subgoal holds there.

The block detector (sim.detector) finds colored blobs; these functions name them as the blocks a plan talks about.
"""

from __future__ import annotations

import numpy as np

from sim.detector import Detection, by_color, detect_blocks
from sim.scene import SHAPES, Block
from sim.targets import Subgoal


def detected_positions(detections: list[Detection]) -> dict[Block, np.ndarray]:
    """Block -> xy from detections; two blocks of one color are told apart by size (a cube's top is larger)."""
    out = {}
    for color, ds in by_color(detections).items():
        if len(ds) == 1:
            for shape in SHAPES:  # a lone block of a color: whatever its shape, this is where it is
                out[Block(color, shape)] = ds[0].xy
        else:
            for shape, d in zip(SHAPES, ds):  # SHAPES = (cube, cylinder): larger first
                out[Block(color, shape)] = d.xy
    return out


def unseen_blocks(image: np.ndarray, subgoal: Subgoal) -> list[str]:
    """Names of the blocks the subgoal's target is about that the detector does not find in `image`."""
    if subgoal.target is None:
        return []
    seen = detected_positions(detect_blocks(image))
    return [b.name for b in subgoal.target.blocks if b not in seen]


def subgoal_holds(image: np.ndarray, subgoal: Subgoal, margin: float = 0.0) -> bool:
    """Whether the subgoal's target holds where the block detector sees the blocks in `image` (a camera frame),
    and still holds with the moved block shifted `margin` metres along either axis (the detector's error)."""
    target = subgoal.target
    if target is None:
        return False
    seen = detected_positions(detect_blocks(image))
    if any(b not in seen for b in target.blocks):
        return False
    shifts = [(0.0, 0.0)] + ([(margin, 0.0), (-margin, 0.0), (0.0, margin), (0.0, -margin)] if margin > 0 else [])
    return all(target.satisfied({**seen, target.block: seen[target.block] + np.array(d)}) for d in shifts)
