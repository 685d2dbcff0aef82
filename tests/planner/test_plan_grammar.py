import json
import random

import pytest

from planner.plan_format import ALL_BLOCKS, PlanGrammar, format_answer, parse_answer
from planner.subgoal_planner import PlanningError
from sim.env import TabletopEnv
from sim.tasks import TASKS


@pytest.fixture(scope="module")
def scenes():
    env = TabletopEnv()
    out = []
    for i, task in enumerate(sorted(TASKS)):
        for split in ("train", "crowded"):
            env.reset(seed=1_000_000 + i, options={"task": task, "split": split})
            out.append((env.blocks, list(env.subgoals)))
    env.close()
    return out


@pytest.mark.parametrize("refs", ["names", "indices"])
def test_reference_answers_are_accepted_and_parse_back(scenes, refs):
    grammar = PlanGrammar(refs=refs)
    for blocks, targets in scenes:
        text = format_answer(blocks, [t.text for t in targets], refs)
        assert grammar.complete(grammar.advance(grammar.start(), text)), text
        answer = parse_answer(text, refs)
        assert set(answer.blocks) == set(blocks)
        assert [sg.target for sg in answer.subgoals] == targets
        assert [sg.text for sg in answer.subgoals] == [t.text for t in targets]  # the plan names blocks either way


def test_index_answers_refer_to_blocks_by_their_place_in_the_list():
    text = format_answer(["red cube", "blue cylinder"], ["push the blue cylinder next to the red cube",
                                                         "push the red cube to the top left corner"], "indices")
    assert json.loads(text)["subgoals"] == ["push the #2 next to the #1", "push the #1 to the top left corner"]
    grammar = PlanGrammar(refs="indices")
    listed = grammar.advance(grammar.start(), '{"blocks": ["red cube", "blue cylinder"], "subgoals": ["')
    assert grammar.advance(listed, "push the #3") is None  # a third block was not listed
    assert grammar.advance(listed, "push the red cube") is None  # names are not written in this format
    with pytest.raises(PlanningError, match="#3 of 2"):
        parse_answer('{"blocks": ["red cube", "blue cylinder"], "subgoals": ["push the #3 to the center"]}', "indices")


@pytest.mark.parametrize("blocks, subgoals", [
    (["red cube"], ["push the blue cube to the center"]),                   # a block it did not say it sees
    (["red cube", "red cube"], ["push the red cube to the center"]),         # listed twice
    (["red cube", "blue cube"], ["push the red cube next to the red cube"]),  # relative to itself
    (["red cube"], ["move the red cube to the center"]),                     # not the canonical sentence
    (["pink cube"], ["push the pink cube to the center"]),                   # not a block of the world
    (["red cube"], []),                                                      # no subgoal
])
def test_grammar_rejects(blocks, subgoals):
    grammar = PlanGrammar()
    text = json.dumps({"blocks": blocks, "subgoals": subgoals})
    state = grammar.advance(grammar.start(), text)
    assert state is None or not grammar.complete(state)


@pytest.mark.parametrize("refs", ["names", "indices"])
def test_random_walks_always_finish_and_parse(refs):
    grammar = PlanGrammar(max_subgoals=3, refs=refs)
    rng = random.Random(0)
    for _ in range(300):
        state, text = grammar.start(), ""
        while not grammar.complete(state):
            options = grammar.next_chars(state)
            assert options, f"dead end after {text!r}"
            ch = rng.choice(options)
            state, text = grammar.step(state, ch), text + ch
        assert len(text) <= grammar.max_chars
        answer = parse_answer(text, refs)
        assert 1 <= len(answer.subgoals) <= 3 and set(answer.blocks) <= set(ALL_BLOCKS)


def test_parse_answer_failure_is_a_planning_error():
    with pytest.raises(PlanningError, match="no valid plan"):
        parse_answer('{"blocks": ["red cube"], "subgoals": ["dance"]}')


def test_examples_list_the_blocks_left_to_right():
    from sim.scene_records import scene_record

    env = TabletopEnv()
    for seed in range(5):
        env.reset(seed=seed, options={"task": "make_line"})
        pos = env.block_positions()
        xs = [pos[next(b for b in env.blocks if b.name == name)][0] for name in scene_record(env)["blocks"]]
        assert xs == sorted(xs)
    env.close()


def test_grammar_accepts_blocks_in_any_order_but_each_once():
    grammar = PlanGrammar()
    ok = json.dumps({"blocks": ["purple cube", "red cube"], "subgoals": ["push the red cube to the center"]})
    assert grammar.complete(grammar.advance(grammar.start(), ok))
    assert [b.name for b in parse_answer(ok).blocks] == ["purple cube", "red cube"]
