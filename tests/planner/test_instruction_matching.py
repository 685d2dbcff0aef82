import numpy as np
import pytest

from planner.instruction_matching import InstructionMatcher, slot_words
from sim.tasks import TASKS, match_instruction


@pytest.fixture(scope="module")
def matcher():
    return InstructionMatcher()


def test_slot_words_in_the_order_said():
    assert slot_words("Shove the red cube over to the top left corner.") == {
        "block": "red cube", "a": "red", "region": "top left corner"}
    words = slot_words("place the blue block, then the green block, then the red block, going left to right")
    assert (words["block"], words["anchor"], words["a"], words["b"], words["c"]) == (
        "blue block", "green block", "blue", "green", "red")


def test_candidates_keep_every_color_and_only_the_tasks_regions(matcher):
    cands = matcher.candidates("center the red cube")
    assert "move the red cube to the center" in cands
    assert all("red" in c for c in cands)
    assert "put the red cube in the center" not in cands  # a corner template: its tasks never fill in "center"


def test_held_out_phrasings_match_a_training_phrasing_of_the_same_task(matcher):
    rng = np.random.default_rng(0)
    for task_id, task in TASKS.items():
        for _ in range(4):
            instruction = task.sample(rng, "paraphrase").instruction
            assert match_instruction(instruction, heldout=False) is None  # really unseen
            matched = matcher(instruction)
            assert match_instruction(matched, heldout=False) is not None, (instruction, matched)
            got, words = match_instruction(matched)
            if task_id == "push_to_center" and got == "push_to_corner":
                # "move the X to the center" is also what a corner template says with region "center"
                got, words = task_id, {k: v for k, v in words.items() if k != "region"}
            assert (got, words) == match_instruction(instruction), (instruction, matched)


def test_training_phrasings_and_unrelated_requests_pass_through(matcher):
    rng = np.random.default_rng(1)
    for task in TASKS.values():
        instruction = task.sample(rng, "train").instruction
        assert matcher(instruction) == instruction
    assert matcher("make me a cup of coffee") == "make me a cup of coffee"


def test_the_vlm_planner_asks_its_model_the_matched_phrasing(tiny_vlm):
    from planner.train_planner import PROMPT
    from planner.vlm_planner import VLMPlanner

    model, processor = tiny_vlm
    image = np.zeros((64, 64, 3), np.uint8)
    instruction = "bring the red cube close to the blue cylinder"
    asked = {}
    for match in (True, False):
        planner = VLMPlanner(model, processor, prompt=PROMPT, match_instructions=match)
        ids = planner._inputs([image], [instruction])["input_ids"][0]
        asked[match] = processor.tokenizer.decode(ids, skip_special_tokens=True).strip()
    assert asked[False] == instruction
    assert match_instruction(asked[True], heldout=False) == (
        "push_next_to", {"block": "red cube", "anchor": "blue cylinder"})
