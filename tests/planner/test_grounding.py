import numpy as np
import pytest

from planner.subgoal_planner import PlanningError, check_plan, named_blocks
from planner.train_planner import PROMPT
from planner.vlm_planner import VLMPlanner
from sim.errors import DreamplanError
from sim.scene import Block
from sim.targets import Subgoal, parse_subgoal

RED_CUBE, RED_CYL, BLUE_CUBE = Block("red", "cube"), Block("red", "cylinder"), Block("blue", "cube")


def _plan(*texts):
    return [Subgoal(t, parse_subgoal(t)) for t in texts]


@pytest.mark.parametrize("instruction, seen, message", [
    ("push the pink block to the top left corner", (RED_CUBE,), r"no pink block on the table \(it holds: red cube\)"),
    ("push the blue block to the center", (RED_CUBE, RED_CYL), "no blue block on the table"),
    ("move the red cylinder next to the red cube", (RED_CUBE, BLUE_CUBE), "no red cylinder on the table"),
    ("push the red block to the center", (RED_CUBE, RED_CYL), "'red' is ambiguous: the table holds red cube and red cylinder"),
    ("stack the red cube on the blue cube", (RED_CUBE, BLUE_CUBE), r"cannot do stacking \(the table holds: red cube"),
    ("please pick up the red cube", (RED_CUBE,), "cannot do lifting"),
    ("push the red ball to the center", (RED_CUBE,), "no red ball on the table"),
    ("", (RED_CUBE,), "an empty instruction"),
])
def test_instructions_that_cannot_be_grounded(instruction, seen, message):
    with pytest.raises(PlanningError, match=message) as info:
        named_blocks(instruction, seen)
    assert isinstance(info.value, DreamplanError) and info.value.reason and info.value.instruction == instruction


@pytest.mark.parametrize("instruction", [
    "could you push the red cube to the center?", "red cube -> center", "I want the red one in the middle",
    "the red cube, move it next to the blue cube", "Puhs the red cube to the centre."])
def test_wording_never_refuses_a_request(instruction):
    assert named_blocks(instruction, (RED_CUBE, BLUE_CUBE))[0] == RED_CUBE


def test_long_instructions_are_elided_in_the_refusal():
    with pytest.raises(PlanningError) as info:
        named_blocks("push the pink block " + "very " * 1000 + "far", (RED_CUBE,))
    assert len(str(info.value)) < 300 and "…" in str(info.value)


def test_named_blocks_resolve_against_the_scene():
    seen = (RED_CUBE, BLUE_CUBE, RED_CYL)
    assert named_blocks("please put the red cube next to the blue block", seen) == [RED_CUBE, BLUE_CUBE]
    assert named_blocks("group the blocks by color", seen) == []


def test_a_plan_that_ignores_a_named_block_is_refused():
    seen = (RED_CUBE, BLUE_CUBE)
    plan = _plan("push the blue cube to the center")
    with pytest.raises(PlanningError, match="never moves or uses the red cube"):
        check_plan("push the red cube next to the blue cube", seen, plan)
    ok = _plan("push the red cube next to the blue cube")
    assert check_plan("push the red cube next to the blue cube", seen, ok) == ok


def test_vlm_planner_refuses_ungroundable_instructions_whatever_it_decodes(tiny_vlm):
    planner = VLMPlanner(*tiny_vlm, prompt=PROMPT, max_subgoals=2, match_instructions=True)
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(PlanningError, match="pink"):
        planner.plan(image, "push the pink block to the top left corner")
    with pytest.raises(PlanningError, match="asks for nothing the robot can do") as info:
        planner.plan(image, "sing me a song")
    assert info.value.kind == "unclear"
