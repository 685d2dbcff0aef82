"""How well a planner's plans match the reference decompositions of recorded scenes.

- exact: the whole plan equals the reference plan (same canonical sentences, same order);
- subgoal: reference subgoals matched at their position in the plan (micro-averaged over subgoals);
- refused: the planner raised PlanningError (a valid instruction refused counts as wrong).
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from planner.plan_data import PlanExamples
from planner.subgoal_planner import PlanningError
from sim.targets import Subgoal


def plan_all(planner, examples: PlanExamples) -> tuple[list[list[Subgoal] | PlanningError], float]:
    """Plans (or the PlanningError) for every example, and the seconds it took."""
    images, instructions = list(examples.images), [r["instruction"] for r in examples.records]
    t0 = time.perf_counter()
    if hasattr(planner, "plan_many"):  # batched
        plans = planner.plan_many(images, instructions)
    else:
        plans = []
        for image, instruction in zip(images, instructions):
            try:
                plans.append(planner.plan(image, instruction))
            except PlanningError as e:
                plans.append(e)
    return plans, time.perf_counter() - t0


def score(plans: list[list[Subgoal] | PlanningError], records: list[dict]) -> dict:
    by_task: dict[str, list[bool]] = defaultdict(list)
    exact, matched, total, refused = [], 0, 0, 0
    for plan, rec in zip(plans, records):
        ref = rec["subgoals"]
        got = [] if isinstance(plan, PlanningError) else [sg.text for sg in plan]
        refused += isinstance(plan, PlanningError)
        exact.append(got == ref)
        by_task[rec["task"]].append(got == ref)
        matched += sum(g == r for g, r in zip(got, ref))
        total += len(ref)
    return {"examples": len(records), "exact": float(np.mean(exact)), "subgoal": matched / max(total, 1),
            "refused": refused / max(len(records), 1),
            "exact_by_task": {t: float(np.mean(v)) for t, v in sorted(by_task.items())}}


def evaluate_planner(planner, examples: PlanExamples) -> dict:
    plans, seconds = plan_all(planner, examples)
    return {**score(plans, examples.records), "seconds_per_plan": seconds / max(len(examples), 1)}
