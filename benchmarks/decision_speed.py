"""Seconds per decision of the closed-loop agent on this CPU: imagine K clips, score them, read the kept clip's
actions -- re-samples included, as the agent makes them -- on 1 and 2 threads, for each stack side by side.

    python benchmarks/decision_speed.py [--stack NAME=OVERRIDES ...] [--suite tabletop-single] [--episodes 2]
        [--threads 1,2] [--out benchmarks/results/decision_speed.json]

A stack is `dreamplan eval` overrides, space-separated ("distilled=videomodel=dit_distilled"); the default
stacks are the shipped defaults and the distilled world model in their place. Each plays `--episodes` seeds
(1,000,000 on) of every task of the suite in this process (`dreamplan eval` gives each worker one thread, so
its "per decision" figure is the 1-thread one), each seeded as `dreamplan eval` seeds it. It reports the
agent's own timers per decision, how many `imagine` calls a decision made (re-samples) and the milliseconds
per call. Run it on a quiet machine: another job on the two cores halves what it measures.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter

import torch

import sim  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from dreamplan.episode import play
from dreamplan.evaluate import DECISION_COMPONENTS
from sim.detector import detect_blocks
from training.atomic import atomic_write

DEFAULT_STACKS = ("defaults=", "distilled=videomodel=dit_distilled")


def time_stack(overrides: list[str], suite: str, episodes: int, threads: int) -> dict:
    from hydra.utils import instantiate

    from dreamplan.cli import compose

    cfg = compose("eval", [f"suite={suite}", *overrides])
    torch.set_num_threads(threads)
    env, agent = instantiate(cfg.env), instantiate(cfg.agent)
    imagine, calls = agent.video_model.imagine, Counter()
    obs, _ = env.reset(seed=0, options={"task": cfg.suite.tasks[0]})
    # warm-up, untimed: the first call builds oneDNN's kernels, the first detection renders the detector's palette
    imagine(obs["image"], env.subgoals[0].text, int(cfg.agent.num_samples))
    detect_blocks(obs["image"])

    def counted(*args, **kwargs):
        start = time.perf_counter()
        try:
            return imagine(*args, **kwargs)
        finally:
            calls["n"] += 1
            calls["seconds"] += time.perf_counter() - start

    agent.video_model.imagine = counted
    spent, decisions, solved = Counter(), 0, 0
    try:
        for task in cfg.suite.tasks:
            for seed in range(cfg.suite.seed_base, cfg.suite.seed_base + episodes):
                episode = play(env, agent, seed, {"task": task, "split": "train"})[0]
                decisions += len(episode.imagined)
                solved += episode.success
                spent.update(episode.timings)
    finally:
        agent.close()
        env.close()
    per = {k: spent[k] / max(decisions, 1) for k in DECISION_COMPONENTS}
    return {"threads": threads, "episodes": episodes * len(cfg.suite.tasks), "solved": solved,
            "decisions": decisions, "seconds_per_decision": sum(per.values()),
            "parts_per_decision": per, "imagine_calls_per_decision": calls["n"] / max(decisions, 1),
            "ms_per_imagine_call": 1000 * calls["seconds"] / max(calls["n"], 1),
            "num_samples": int(cfg.agent.num_samples)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stack", action="append", help="NAME=OVERRIDES (space-separated); repeatable")
    p.add_argument("--suite", default="tabletop-single")
    p.add_argument("--episodes", type=int, default=2, help="seeds per task")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--out", default="benchmarks/results/decision_speed.json")
    args = p.parse_args()
    stacks = []
    for spec in args.stack or DEFAULT_STACKS:
        name, sep, overrides = spec.partition("=")
        if not sep or not name:
            p.error(f"--stack takes NAME=OVERRIDES, got {spec!r}")
        stacks.append((name, overrides.split()))
    threads = [int(t) for t in args.threads.split(",")]

    rows = []
    print(f"{'stack':<22} {'threads':>7} {'solved':>7} {'decisions':>9} {'calls/dec':>9} {'ms/call':>8} "
          f"{'imagine':>8} {'invdyn':>7} {'score':>6} {'s/decision':>10}")
    for name, overrides in stacks:
        for n in threads:
            r = {"stack": name, "overrides": overrides, **time_stack(overrides, args.suite, args.episodes, n)}
            rows.append(r)
            part = r["parts_per_decision"]
            print(f"{name:<22} {n:>7} {r['solved']:>3}/{r['episodes']:<3} {r['decisions']:>9} "
                  f"{r['imagine_calls_per_decision']:>9.2f} {r['ms_per_imagine_call']:>8.0f} {part['imagine']:>8.3f} "
                  f"{part['invdyn']:>7.3f} {part['score']:>6.3f} {r['seconds_per_decision']:>10.3f}")
    report = {"suite": args.suite, "seeds": "1,000,000 on, per task", "rows": rows,
              "command": "python benchmarks/decision_speed.py " + " ".join(
                  f"--stack '{name}={' '.join(o)}'" for name, o in stacks) + f" --episodes {args.episodes}",
              "machine": {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__}}
    atomic_write(args.out, json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
