"""Imagined against real progress, decision by decision: is the clip the search keeps carried out?

    python benchmarks/decision_trace.py [HYDRA OVERRIDES ...] [--label NAME] [--episodes 4] [--seed 20]

Runs the agent of `dreamplan eval` (scripted planner, the given overrides, e.g. `invdyn=cnn_pretrained`) on
single-step episodes at evaluation seeds 1,000,000 + seed + i. At every decision (imagine K clips, keep one, execute
its first actions) it compares what the kept clip promised, the search's progress (ClipScorer.progress: how far
toward its goal the clip's last frame puts the subgoal's block, 1 = there), with what the executed actions really did
to the block's distance from its goal, read from the simulator for this measurement only. A world model whose clips
promise progress the actions do not deliver shows a high imagined progress and a real change near zero or positive.
Prints a table row per task and writes JSON to benchmarks/results/decision_trace/<label>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import gymnasium
import numpy as np
import torch
from hydra.utils import instantiate

import sim  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from dreamplan.cli import compose
from dreamplan.episode import run_episode, start
from dreamplan.search import ClipScorer
from sim.targets import Subgoal

TASKS = ("push_to_corner", "push_next_to", "push_to_center")


class GoalDistance(gymnasium.Wrapper):
    """Records the subgoal block's distance from its goal (metres) at reset and after every step."""

    def __init__(self, env, target):
        super().__init__(env)
        self.target = target
        self.distances = [self._distance()]

    def _distance(self) -> float:
        pos = self.env.unwrapped.block_positions()
        return float(np.linalg.norm(pos[self.target.block] - self.target.goal(pos)))

    def step(self, action):
        out = self.env.step(action)
        self.distances.append(self._distance())
        return out


def trace_episode(env, agent, scorer: ClipScorer, task: str, seed: int) -> dict:
    obs, info = start(env, seed, {"task": task, "split": "train"})
    target = env.subgoals[0]
    scored = Subgoal(target.text, target)
    traced = GoalDistance(env, target)
    episode = run_episode(traced, obs, agent, info["instruction"])
    starts = [s for s, _ in episode.imagined] + [episode.steps]
    decisions = []
    for (begin, clip), end in zip(episode.imagined, starts[1:]):
        decisions.append({
            "step": begin,
            "imagined_progress": scorer.progress(episode.frames[begin], clip[-1], scored),
            "real_change_cm": 100 * (traced.distances[end] - traced.distances[begin]),
            "steps": end - begin,
        })
    return {"task": task, "seed": seed, "success": bool(episode.success), "decisions": decisions}


def summarise(episodes: list[dict]) -> dict:
    d = [x for e in episodes for x in e["decisions"] if x["steps"] > 0]
    return {
        "episodes": len(episodes), "success": sum(e["success"] for e in episodes), "decisions": len(d),
        "imagined_progress": float(np.mean([x["imagined_progress"] for x in d])) if d else 0.0,
        "real_change_cm": float(np.mean([x["real_change_cm"] for x in d])) if d else 0.0,
        "closer_by_1cm": float(np.mean([x["real_change_cm"] <= -1.0 for x in d])) if d else 0.0,
        "farther_by_1cm": float(np.mean([x["real_change_cm"] >= 1.0 for x in d])) if d else 0.0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", help="Hydra overrides of the eval config, e.g. invdyn=cnn_pretrained")
    p.add_argument("--label", default="defaults")
    p.add_argument("--episodes", type=int, default=4, help="episodes per task")
    p.add_argument("--seed", type=int, default=20)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = compose("eval", ["planner=scripted", *args.overrides])
    env, agent = instantiate(cfg.env), instantiate(cfg.agent)
    scorer = ClipScorer(frame_stride=agent.video_model.frame_stride)
    episodes = [trace_episode(env, agent, scorer, task, 1_000_000 + args.seed + i)
                for task in TASKS for i in range(args.episodes)]
    agent.close()
    env.close()
    rows = {task: summarise([e for e in episodes if e["task"] == task]) for task in TASKS}
    rows["all"] = summarise(episodes)
    print(f"{args.label} ({' '.join(args.overrides) or 'defaults'})")
    print("| task | success | decisions | imagined progress | real change of goal distance per decision | "
          "closer by >= 1 cm | farther by >= 1 cm |")
    print("|---|---|---|---|---|---|---|")
    for task, r in rows.items():
        print(f"| {task} | {r['success']}/{r['episodes']} | {r['decisions']} | {r['imagined_progress']:.2f} | "
              f"{r['real_change_cm']:+.1f} cm | {r['closer_by_1cm']:.0%} | {r['farther_by_1cm']:.0%} |")
    out = Path(args.out or f"benchmarks/results/decision_trace/{args.label}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"label": args.label, "overrides": args.overrides, "seed": args.seed,
                               "episodes_per_task": args.episodes, "summary": rows, "episodes": episodes,
                               "machine": platform.platform()}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
