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


def test_reference_answers_are_accepted_and_parse_back(scenes):
    grammar = PlanGrammar()
    for blocks, targets in scenes:
        text = format_answer(blocks, [t.text for t in targets])
        assert grammar.complete(grammar.advance(grammar.start(), text)), text
        answer = parse_answer(text)
        assert set(answer.blocks) == set(blocks)
        assert [sg.target for sg in answer.subgoals] == targets


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


def test_random_walks_always_finish_and_parse():
    grammar = PlanGrammar(max_subgoals=3)
    rng = random.Random(0)
    for _ in range(300):
        state, text = grammar.start(), ""
        while not grammar.complete(state):
            options = grammar.next_chars(state)
            assert options, f"dead end after {text!r}"
            ch = rng.choice(options)
            state, text = grammar.step(state, ch), text + ch
        assert len(text) <= grammar.max_chars
        answer = parse_answer(text)
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
