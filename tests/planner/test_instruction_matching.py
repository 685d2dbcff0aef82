import numpy as np
import pytest

from planner.instruction_matching import InstructionMatcher
from planner.instruction_text import cannot_do, mentions, region, words
from sim.tasks import TASKS, match_instruction


@pytest.fixture(scope="module")
def matcher():
    return InstructionMatcher()


def test_words_fix_british_spellings_and_one_letter_slips_of_key_words_only():
    assert words("Group the blocks by colour!") == ["group", "the", "blocks", "by", "color"]
    assert words("push the yelow cube to the bottm left") == ["push", "the", "yellow", "cube", "to", "the", "bottom",
                                                              "left"]
    assert words("pick up the red cube")[0] == "pick"  # a word in its own right stays


def test_mentions_in_the_order_said_with_their_shape():
    found = mentions(words("put the red one next to the blue cylinder, not the green box"))
    assert [(m.color, m.shape) for m in found] == [("red", None), ("blue", "cylinder"), ("green", "cube")]
    assert mentions(words("move the red ball"))[0].noun == "ball"


@pytest.mark.parametrize("text, place", [
    ("into the upper-left corner", "top left corner"), ("to the lower right", "bottom right corner"),
    ("in the middle of the table", "center"), ("over to the left-hand side", "left side"),
    ("to the left of the blue cube", None), ("from left to right in a row", None)])
def test_region_by_meaning_not_by_exact_words(text, place):
    assert region(words(text)) == place


@pytest.mark.parametrize("text, what", [
    ("pick up the red cube", "lifting"), ("stack the red cube on the blue cube", "stacking"),
    ("put the red cube on the blue one", "stacking"), ("make the red cube fly", "flying"),
    ("throw the red cube", "throwing"), ("put the red cube on the left side", None),
    ("could you push the red cube to the top left corner?", None)])
def test_what_a_pusher_cannot_do(text, what):
    assert cannot_do(words(text)) == what


def test_every_training_template_is_read_as_its_own_task(matcher):
    rng = np.random.default_rng(0)
    for task_id, task in TASKS.items():
        for split in ("train", "paraphrase"):
            for _ in range(3):
                instruction = task.sample(rng, split).instruction
                asked = matcher(instruction)
                assert asked is not None and match_instruction(asked, heldout=False)[0] == task_id, (instruction, asked)


@pytest.mark.parametrize("text, asked", [
    ("could you push the red cube into the upper-left corner?", "push the red cube to the top left corner"),
    ("please put the blue cylinder in the middle", "push the blue cylinder to the middle"),
    ("next to the green block, put the red cube", "push the red cube next to the green block"),
    ("arrange red, green and blue from right to left", "put blue left of green left of red"),
    ("could you group the blocks by colour?", "group the blocks by color")])
def test_wording_does_not_decide(matcher, text, asked):
    assert matcher(text) == asked


def test_requests_with_no_task_match_nothing(matcher):
    assert matcher("tell me a joke") is None
    assert matcher("push the red cube") is None  # where to?
    assert matcher("how many blocks are there?") is None


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
