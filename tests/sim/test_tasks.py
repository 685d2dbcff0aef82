import numpy as np
import pytest

from sim.env import TabletopEnv
from sim.scene import Block
from sim.targets import HELDOUT_PHRASINGS, PHRASINGS, REGIONS, GroundingError, Target, parse_subgoal
from sim.tasks import HELDOUT_COMBOS, TASKS, combo, get_task


def _all_targets():
    red, blue = Block("red", "cube"), Block("blue", "cylinder")
    yield from (Target("region", red, r) for r in REGIONS)
    yield from (Target(k, red, anchor=blue) for k in ("near", "left_of", "right_of"))


@pytest.mark.parametrize("target", list(_all_targets()), ids=lambda t: t.text)
def test_canonical_text_parses_back_to_the_same_target(target):
    assert parse_subgoal(target.text) == target
    assert parse_subgoal(target.text.upper() + ".") == target
    assert Target.from_dict(target.to_dict()) == target


def test_parse_rejects_what_is_not_on_the_table_or_not_in_the_grammar():
    scene = (Block("red", "cube"), Block("green", "cube"))
    with pytest.raises(GroundingError, match="blue cylinder, which is not on the table"):
        parse_subgoal("push the red cube next to the blue cylinder", scene)
    with pytest.raises(GroundingError, match="not a subgoal in the grammar"):
        parse_subgoal("stack the red cube on the green cube", scene)
    with pytest.raises(GroundingError, match="not a subgoal in the grammar"):
        parse_subgoal("push the pink cube to the center", scene)
    with pytest.raises(GroundingError, match="relative to itself"):
        parse_subgoal("push the red cube next to the red cube", scene)


def test_targets_check_geometry():
    r, g = Block("red", "cube"), Block("green", "cube")
    pos = {r: np.array([-0.2, 0.2]), g: np.array([0.0, 0.0])}
    assert Target("region", r, "top left corner").satisfied(pos)
    assert not Target("region", r, "center").satisfied(pos)
    assert Target("region", g, "center").satisfied(pos)
    assert not Target("near", r, anchor=g).satisfied(pos)
    pos[r] = np.array([-0.075, 0.01])
    assert Target("near", r, anchor=g).satisfied(pos)
    assert Target("left_of", r, anchor=g).satisfied(pos)
    assert not Target("right_of", r, anchor=g).satisfied(pos)
    np.testing.assert_allclose(Target("right_of", r, anchor=g).goal(pos), [0.075, 0.0])


def test_paraphrases_are_distinct_from_heldout_ones():
    for kind in PHRASINGS:
        assert not set(PHRASINGS[kind]) & set(HELDOUT_PHRASINGS[kind])
    for task in TASKS.values():
        assert task.templates and task.heldout_templates
        assert not set(task.templates) & set(task.heldout_templates)


def test_long_horizon_tasks_have_two_to_six_subgoals():
    env = TabletopEnv()
    for task in ("group_by_color", "all_left", "make_line", "order_three"):
        counts = set()
        for seed in range(12):
            for split in ("train", "crowded"):
                _, info = env.reset(seed=seed, options={"task": task, "split": split})
                counts.add(len(info["subgoals"]))
        assert min(counts) >= 2 and max(counts) <= 6, (task, counts)
    env.close()


@pytest.mark.slow
def test_splits_hold_out_templates_and_combinations():
    env = TabletopEnv()
    for task_id, task in TASKS.items():
        for seed in range(15):
            _, info = env.reset(seed=seed, options={"task": task_id, "split": "train"})
            assert not any(combo(t) in HELDOUT_COMBOS for t in env.subgoals)
            assert len(env.blocks) <= 6
            _, info = env.reset(seed=seed, options={"task": task_id, "split": "combo"})
            assert any(combo(t) in HELDOUT_COMBOS for t in env.subgoals)
        heldout_starts = {t.split("{")[0] for t in task.heldout_templates}
        _, info = env.reset(seed=0, options={"task": task_id, "split": "paraphrase"})
        assert any(info["instruction"].startswith(h) for h in heldout_starts), info["instruction"]
        _, info = env.reset(seed=0, options={"task": task_id, "split": "crowded"})
        assert len(env.blocks) == 6
    env.close()


def test_shared_scenes_give_a_color_to_two_blocks_and_name_blocks_unambiguously():
    env = TabletopEnv()
    for task_id in TASKS:
        for seed in range(8):
            _, info = env.reset(seed=seed, options={"task": task_id, "split": "shared"})
            colors = [b.color for b in env.blocks]
            shared = {c for c in colors if colors.count(c) == 2}
            assert shared and len(set(env.blocks)) == len(env.blocks) and max(map(colors.count, colors)) == 2
            assert not any(combo(t) in HELDOUT_COMBOS for t in env.subgoals)
            said = info["instruction"].split()
            # a color names a block only with its shape after it
            assert not any(w in shared and (i + 1 == len(said) or said[i + 1] not in ("cube", "cylinder"))
                           for i, w in enumerate(said)), info["instruction"]
    env.close()


def test_the_plan_depends_on_the_scene():
    """The same instruction gives different subgoals for different layouts: a planner must look."""
    env = TabletopEnv()
    plans = set()
    for seed in range(10):
        _, info = env.reset(seed=seed, options={"task": "all_left"})
        assert info["instruction"] in get_task("all_left").templates
        plans.add(tuple(info["subgoals"]))
    assert len(plans) >= 5
    env.close()


def test_instructions_map_to_tasks_and_scenes_that_fit_them():
    from sim.errors import DreamplanError
    from sim.tasks import match_instruction

    assert match_instruction("Group the blocks by color.") == ("group_by_color", {})
    assert match_instruction("put red left of green left of blue") == ("order_three", {"a": "red", "b": "green", "c": "blue"})
    assert match_instruction("stack the blocks") is None
    env = TabletopEnv()
    _, info = env.reset(seed=0, options={"instruction": "push the red cylinder to the top right corner"})  # a held-out combo
    assert info["subgoals"] == ["push the red cylinder to the top right corner"]
    assert info["instruction"] == "push the red cylinder to the top right corner"
    _, info = env.reset(seed=0, options={"instruction": "move the purple block beside the orange cube"})
    assert info["subgoals"] == [f"push the {[b for b in env.blocks if b.color == 'purple'][0].name} next to the orange cube"]
    _, info = env.reset(seed=5, options={"instruction": "put yellow left of blue left of red"})
    assert [s.split(" to the ")[0] for s in info["subgoals"]] == ["push the " + n for n in
                                                                  [b.name for c in ("blue", "yellow", "red") for b in env.blocks if b.color == c]]
    with pytest.raises(DreamplanError, match="no task understands the instruction 'stack the blocks'"):
        env.reset(options={"instruction": "stack the blocks"})
    env.close()
