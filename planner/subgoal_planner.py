"""What every subgoal planner promises: a grounded plan or a `PlanningError` that says why there is none.

`SubgoalPlanner` (dreamplan.protocols) is `plan(image uint8 [H, W, 3], instruction) -> list[Subgoal]`. Learned
planners see only the image, so they ground the instruction against the blocks they perceive in it: a
color or block the instruction names must be on the table, named unambiguously, and moved (or used as an
anchor) by the plan; the instruction must start with something a pushing robot can do.
"""

from __future__ import annotations

import re

from sim.errors import DreamplanError
from sim.scene import COLORS, SHAPES, Block
from sim.targets import Subgoal

# Color words a user may say; the ones outside COLORS can never be on the table.
COLOR_WORDS = frozenset(COLORS) | {"pink", "white", "black", "brown", "gray", "grey", "cyan", "magenta", "violet",
                                   "indigo", "gold", "silver", "beige", "teal", "turquoise", "maroon", "navy", "lime"}
# What a planar pusher can be asked to do: verbs of moving and arranging things on a table.
PUSH_VERBS = frozenset("""push move slide shove put place set bring get drag nudge shift gather group sort arrange
order line make form pair center centre clear collect align organize organise position sweep""".split())
_POLITE = {"please", "now", "then", "robot"}


class PlanningError(DreamplanError):
    """The instruction cannot be turned into a plan grounded in the scene; `reason` says why, for the user."""

    def __init__(self, reason: str, instruction: str | None = None):
        self.reason, self.instruction = reason, instruction
        super().__init__(f"cannot plan {instruction!r}: {reason}" if instruction is not None else reason)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _listing(blocks: tuple[Block, ...]) -> str:
    return ", ".join(b.name for b in blocks) or "nothing"


def named_blocks(instruction: str, seen: tuple[Block, ...]) -> list[Block]:
    """The blocks an instruction names ('red cube', 'red block', 'red'), resolved against the blocks seen;
    raises PlanningError for a color or block not on the table, an ambiguous name, or an unknown verb."""
    words = _words(instruction)
    verbs = [w for w in words if w not in _POLITE]
    if not verbs or verbs[0] not in PUSH_VERBS:
        what = f"'{verbs[0]}'" if verbs else "an empty instruction"
        raise PlanningError(f"the robot can only push blocks around the table; it does not know how to do {what}",
                            instruction)
    named = []
    for i, w in enumerate(words):
        if w not in COLOR_WORDS:
            continue
        shape = words[i + 1] if i + 1 < len(words) and words[i + 1] in SHAPES else None
        matches = [b for b in seen if b.color == w and shape in (None, b.shape)]
        if not matches:
            name = f"{w} {shape}" if shape else f"{w} block"
            raise PlanningError(f"there is no {name} on the table (it holds: {_listing(seen)})", instruction)
        if len(matches) > 1:
            raise PlanningError(f"'{w}' is ambiguous: the table holds {' and '.join(b.name for b in matches)}; "
                                "say which shape", instruction)
        named.append(matches[0])
    return named


def check_plan(instruction: str, seen: tuple[Block, ...], plan: list[Subgoal]) -> list[Subgoal]:
    """`plan` if it is grounded in the blocks seen and touches every block the instruction names."""
    named = named_blocks(instruction, seen)
    if not plan:
        raise PlanningError("the planner produced no subgoals", instruction)
    touched = {b for sg in plan if sg.target is not None for b in sg.target.blocks}
    missing = [b.name for b in named if b not in touched]
    if missing:
        raise PlanningError(f"the plan ({'; '.join(sg.text for sg in plan)}) never moves or uses the "
                            f"{', '.join(missing)} the instruction names", instruction)
    return plan


__all__ = ["PlanningError", "named_blocks", "check_plan", "COLOR_WORDS", "PUSH_VERBS"]
