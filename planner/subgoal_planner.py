"""What every subgoal planner promises: a grounded plan or a `PlanningError` that says why there is none.

`SubgoalPlanner` (dreamplan.protocols) is `plan(image uint8 [H, W, 3], instruction) -> list[Subgoal]`. Learned
planners see only the image, so they ground the instruction against the blocks they perceive in it: what it
asks must be something a pushing robot can do, and a color or block it names must be on the table, named
unambiguously, and moved (or used as an anchor) by the plan. Wording never decides: "could you...?", "red cube
to the top left" and "I want the red cube in the corner" are all requests.
"""

from __future__ import annotations

from planner.instruction_text import cannot_do, mentions, words
from sim.errors import DreamplanError, elided
from sim.scene import Block
from sim.targets import Subgoal

# Why a planner refuses: what the robot cannot do, a block the table lacks, a name that fits two blocks,
# a request the planner does not understand, a plan that fails its own instruction.
REFUSALS = ("cannot", "absent", "ambiguous", "unclear", "plan")


class PlanningError(DreamplanError):
    """The instruction cannot be turned into a plan grounded in the scene; `reason` says why, for the user, and
    `kind` (one of REFUSALS) says which kind of why."""

    def __init__(self, reason: str, instruction: str | None = None, kind: str = "plan"):
        self.reason, self.instruction, self.kind = reason, instruction, kind
        super().__init__(f"cannot plan {elided(instruction)!r}: {reason}" if instruction is not None else reason)


def _listing(blocks: tuple[Block, ...]) -> str:
    return ", ".join(b.name for b in blocks) or "nothing"


def named_blocks(instruction: str, seen: tuple[Block, ...]) -> list[Block]:
    """The blocks an instruction names ('red cube', 'red block', 'the red one', 'red'), resolved against the
    blocks seen; raises PlanningError for something a pusher cannot do, a color or block not on the table, or
    an ambiguous name."""
    ws = words(instruction)
    if not ws:
        raise PlanningError(f"an empty instruction asks for nothing (the table holds: {_listing(seen)})",
                            instruction, "unclear")
    what = cannot_do(ws)
    if what:
        raise PlanningError(f"the robot can only push blocks around the table; it cannot do {what} "
                            f"(the table holds: {_listing(seen)})", instruction, "cannot")
    named = []
    for m in mentions(ws):
        matches = [b for b in seen if b.color == m.color and m.shape in (None, b.shape)]
        if m.noun or not matches:
            raise PlanningError(f"there is no {m.text} on the table (it holds: {_listing(seen)})", instruction,
                                "absent")
        if len(matches) > 1:
            raise PlanningError(f"'{m.color}' is ambiguous: the table holds {' and '.join(b.name for b in matches)}; "
                                "say which shape", instruction, "ambiguous")
        if matches[0] not in named:
            named.append(matches[0])
    return named


def not_understood(instruction: str, seen: tuple[Block, ...]) -> PlanningError:
    """The refusal of an instruction the planner's reading finds no task in."""
    ws = words(instruction)
    named = mentions(ws)
    if len(named) == 1:
        return PlanningError(f"it does not say where the {named[0].text} should go (the table holds: "
                             f"{_listing(seen)})", instruction, "unclear")
    return PlanningError(f"it asks for nothing the robot can do: it pushes the blocks on the table "
                         f"({_listing(seen)}) into places, next to each other, into groups or a line", instruction,
                         "unclear")


def check_plan(instruction: str, seen: tuple[Block, ...], plan: list[Subgoal]) -> list[Subgoal]:
    """`plan` if it is grounded in the blocks seen and touches every block the instruction names."""
    named = named_blocks(instruction, seen)
    if not plan:
        raise PlanningError("the planner produced no subgoals", instruction, "plan")
    touched = {b for sg in plan if sg.target is not None for b in sg.target.blocks}
    missing = [b.name for b in named if b not in touched]
    if missing:
        raise PlanningError(f"the plan ({'; '.join(sg.text for sg in plan)}) never moves or uses the "
                            f"{', '.join(missing)} the instruction names", instruction, "plan")
    return plan


__all__ = ["PlanningError", "REFUSALS", "named_blocks", "not_understood", "check_plan"]
