import numpy as np
from hydra.utils import instantiate

from dreamplan.cli import compose
from planner.plan_format import Answer
from sim.env import TabletopEnv


def test_real_vlm_families_give_parseable_plans(hf_family_dir):
    """Random weights: the plan is arbitrary, but constrained decoding makes it a grounded, valid one."""
    cfg = compose("run", ["instruction=x", "planner=hf_vlm", f"planner.path={hf_family_dir}", "+planner.max_subgoals=2"])
    planner = instantiate(cfg.planner)
    env = TabletopEnv()
    images, instructions = [], []
    for seed in range(2):
        obs, info = env.reset(seed=1_000_000 + seed, options={"task": "group_by_color"})
        images.append(obs["image"])
        instructions.append(info["instruction"])
    env.close()
    answers = planner.answer_many(images, instructions)
    assert all(isinstance(a, Answer) for a in answers), answers
    for answer in answers:
        assert 1 <= len(answer.subgoals) <= 2
        assert all(set(sg.target.blocks) <= set(answer.blocks) for sg in answer.subgoals)
    plan = planner.plan(images[0], instructions[0])  # names no block: nothing to refuse
    assert plan == answers[0].subgoals
