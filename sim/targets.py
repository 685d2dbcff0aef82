"""Machine-checkable subgoal targets and their canonical language.

A target says where one block must end up: in a named region of the table, next to another block, or
left/right of another block. Every target has one canonical sentence (what planners emit and what
`parse_subgoal` reads back) and several paraphrases, some held out of training.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from sim.errors import DreamplanError
from sim.scene import BLOCK_HALF, COLORS, SHAPES, Block

XY = np.ndarray
Positions = Mapping[Block, XY]

# Regions: (x_min, x_max, y_min, y_max) in which the block centre must lie, and the point the expert aims for
# (None: keep the block's own coordinate on that axis).
REGIONS: dict[str, tuple[tuple[float, float, float, float], tuple[float | None, float | None]]] = {
    "top left corner": ((-1, -0.11, 0.11, 1), (-0.18, 0.18)),
    "top right corner": ((0.11, 1, 0.11, 1), (0.18, 0.18)),
    "bottom left corner": ((-1, -0.11, -1, -0.11), (-0.18, -0.18)),
    "bottom right corner": ((0.11, 1, -1, -0.11), (0.18, -0.18)),
    "center": ((-0.05, 0.05, -0.05, 0.05), (0.0, 0.0)),
    "left side": ((-1, -0.1, -1, 1), (-0.17, None)),
    "right side": ((0.1, 1, -1, 1), (0.17, None)),
}

NEAR = 0.095  # centre distance that counts as "next to" (blocks are 0.06 wide)
SPACING = 0.075  # centre distance the expert aims for when placing a block beside another
ROW_TOLERANCE = 0.035  # |dy| allowed for "left of"/"right of"

KINDS = ("region", "near", "left_of", "right_of")

# Canonical sentence first; the paraphrases after it are used in training, HELDOUT_PHRASINGS only in evaluation.
PHRASINGS: dict[str, list[str]] = {
    "region": ["push the {block} to the {region}", "move the {block} to the {region}", "slide the {block} into the {region}"],
    "near": ["push the {block} next to the {anchor}", "move the {block} beside the {anchor}", "put the {block} next to the {anchor}"],
    "left_of": ["push the {block} to the left of the {anchor}", "move the {block} left of the {anchor}", "place the {block} on the left of the {anchor}"],
    "right_of": ["push the {block} to the right of the {anchor}", "move the {block} right of the {anchor}", "place the {block} on the right of the {anchor}"],
}
HELDOUT_PHRASINGS: dict[str, list[str]] = {
    "region": ["shove the {block} over to the {region}"],
    "near": ["slide the {block} up against the {anchor}"],
    "left_of": ["set the {block} just left of the {anchor}"],
    "right_of": ["set the {block} just right of the {anchor}"],
}


@dataclass(frozen=True)
class Target:
    kind: str
    block: Block
    region: str | None = None
    anchor: Block | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown target kind {self.kind!r} (known: {', '.join(KINDS)})")
        if (self.kind == "region") != (self.region is not None) or (self.kind == "region") == (self.anchor is not None):
            raise ValueError(f"target {self.kind!r} needs {'a region' if self.kind == 'region' else 'an anchor block'}")
        if self.region is not None and self.region not in REGIONS:
            raise ValueError(f"unknown region {self.region!r} (known: {', '.join(REGIONS)})")
        if self.anchor == self.block:
            raise ValueError(f"a block cannot be placed relative to itself ({self.block.name})")

    @property
    def blocks(self) -> tuple[Block, ...]:
        return (self.block,) if self.anchor is None else (self.block, self.anchor)

    @property
    def text(self) -> str:
        return self.phrase(PHRASINGS[self.kind][0])

    def phrase(self, template: str) -> str:
        return template.format(block=self.block.name, region=self.region, anchor=self.anchor.name if self.anchor else "")

    def paraphrase(self, rng: np.random.Generator, heldout: bool = False) -> str:
        templates = HELDOUT_PHRASINGS[self.kind] if heldout else PHRASINGS[self.kind]
        return self.phrase(templates[rng.integers(len(templates))])

    def satisfied(self, pos: Positions) -> bool:
        x, y = pos[self.block]
        if self.kind == "region":
            x0, x1, y0, y1 = REGIONS[self.region][0]
            return bool(x0 <= x <= x1 and y0 <= y <= y1)
        ax, ay = pos[self.anchor]
        if self.kind == "near":
            return bool(np.hypot(x - ax, y - ay) <= NEAR)
        dx = (x - ax) if self.kind == "right_of" else (ax - x)
        return bool(2 * BLOCK_HALF - 0.005 <= dx <= SPACING + 0.045 and abs(y - ay) <= ROW_TOLERANCE)

    def goal(self, pos: Positions) -> XY:
        """The point the moved block's centre should be pushed to."""
        x, y = pos[self.block]
        if self.kind == "region":
            gx, gy = REGIONS[self.region][1]
            return np.array([x if gx is None else gx, y if gy is None else gy])
        a = np.asarray(pos[self.anchor], dtype=float)
        if self.kind == "near":
            d = np.array([x, y]) - a
            n = np.linalg.norm(d)
            return a + SPACING * (d / n if n > 1e-6 else np.array([1.0, 0.0]))
        return a + np.array([SPACING if self.kind == "right_of" else -SPACING, 0.0])

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "block": self.block.name}
        if self.region is not None:
            d["region"] = self.region
        if self.anchor is not None:
            d["anchor"] = self.anchor.name
        return d

    @staticmethod
    def from_dict(d: Mapping) -> "Target":
        return Target(d["kind"], block_from_name(d["block"]), d.get("region"), block_from_name(d["anchor"]) if d.get("anchor") else None)


@dataclass(frozen=True)
class Subgoal:
    """One step of a plan: its text, plus the machine-checkable target when it is known."""

    text: str
    target: Target | None = None


def block_from_name(name: str) -> Block:
    parts = name.split()
    if len(parts) != 2:
        raise ValueError(f"a block is named '<color> <shape>', got {name!r}")
    return Block(*parts)


class GroundingError(DreamplanError, ValueError):
    """A subgoal names something that is not on the table or is not in the subgoal grammar."""


_BLOCK = rf"(?P<{{}}>(?:{'|'.join(COLORS)}) (?:{'|'.join(SHAPES)}))"
_CANONICAL = {
    "region": re.compile(rf"push the {_BLOCK.format('block')} to the (?P<region>{'|'.join(REGIONS)})"),
    "near": re.compile(rf"push the {_BLOCK.format('block')} next to the {_BLOCK.format('anchor')}"),
    "left_of": re.compile(rf"push the {_BLOCK.format('block')} to the left of the {_BLOCK.format('anchor')}"),
    "right_of": re.compile(rf"push the {_BLOCK.format('block')} to the right of the {_BLOCK.format('anchor')}"),
}


def parse_subgoal(text: str, scene: tuple[Block, ...] | None = None) -> Target:
    """Read a canonical subgoal sentence back into its target; checks the blocks are in `scene` if given."""
    clean = " ".join(text.lower().strip().rstrip(".").split())
    for kind, pattern in _CANONICAL.items():
        m = pattern.fullmatch(clean)
        if m:
            anchor = block_from_name(m["anchor"]) if "anchor" in pattern.groupindex else None
            if anchor is not None and anchor == block_from_name(m["block"]):
                raise GroundingError(f"subgoal places a block relative to itself: {text!r}")
            target = Target(kind, block_from_name(m["block"]), m.groupdict().get("region"), anchor)
            missing = [b.name for b in target.blocks if scene is not None and b not in scene]
            if missing:
                raise GroundingError(f"subgoal {text!r} names {', '.join(missing)}, which is not on the table")
            return target
    raise GroundingError(f"not a subgoal in the grammar: {text!r}")
