"""Inverse dynamics: one-step action error on held-out episodes, and closed-loop replay of the expert's future.

    python benchmarks/invdyn_eval.py --checkpoint runs/invdyn/k4 [--episodes 20] [--tasks all] [--seed 0]
        [--val-data data/invdyn-val] [--tracker] [--out runs/invdyn/k4/eval.json]

Replay: on evaluation seeds (sim.tasks.EVAL_SEED_BASE + seed + i) the scripted expert runs k steps ahead in a
copy of the env; the model reads (current real frame, the expert's frame k steps later), its k actions are
executed in the real env, and so on until success or the env's step budget. This is the agent with a perfect
world model (SimulatorOracle) and a perfect planner: its success next to the expert's own bounds what inverse
dynamics costs. `--tracker` adds the classical pusher tracker (invdyn.pusher_tracker) as a baseline row.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import sim  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from invdyn.data import FramePairs
from invdyn.evaluate import action_error
from invdyn.model import InverseDynamicsCNN
from invdyn.pusher_tracker import PusherTracker
from sim.env import TabletopEnv
from sim.expert import ScriptedExpert
from sim.record import run_expert_episode
from sim.tasks import EVAL_SEED_BASE, TASKS


def replay_episode(invdyn, env: TabletopEnv, lookahead: TabletopEnv, seed: int, task: str) -> dict:
    """One episode where `invdyn` follows the frames the expert would produce; returns success and steps."""
    k = invdyn.frame_stride
    obs, info = env.reset(seed=seed, options={"task": task, "split": "train"})
    expert = ScriptedExpert(env.subgoals, max_step=env.max_step)
    done, steps = False, 0
    while not done:
        expert.act_in(env)  # let the expert see the real scene (which subgoal is it on?); its action is not used
        lookahead.restore(env.snapshot())
        ahead = copy.deepcopy(expert)
        for _ in range(k):
            future, *_ = lookahead.step(ahead.act_in(lookahead))
        for action in invdyn.actions(np.stack([obs["image"], future["image"]])):
            obs, _, terminated, truncated, info = env.step(action)
            steps += 1
            done = terminated or truncated
            if done:
                break
    return {"success": bool(info["success"]), "steps": steps}


def random_action_error(agents: dict, episodes: int, seed: int, image_size: int, k: int) -> dict:
    """Per-action MAE (action units) when the move between the frames is random, not the expert's.

    A model trained only on expert data can partly predict the expert's next action from the scene alone and
    underuse the second frame; imagined frames that depart from what the expert would do expose that. States:
    eval scenes after 0-40 expert steps; then one action uniform in [-1, 1]^2 (nudged away from the walls),
    held for the k steps so that it is fully determined by the two frames."""
    env = TabletopEnv(image_size=image_size)
    rng = np.random.default_rng(seed)
    errors = {name: [] for name in agents}
    tasks = list(TASKS)
    for i in range(episodes):
        env.reset(seed=EVAL_SEED_BASE + seed + i, options={"task": tasks[i % len(tasks)]})
        expert = ScriptedExpert(env.subgoals, max_step=env.max_step)
        for _ in range(int(rng.integers(0, 41))):
            env.step(expert.act_in(env))
        first = env.camera_image()
        action = rng.uniform(-1, 1, size=2) - np.clip(env.pusher_position() / 0.2, -1, 1) * 0.5
        actions = np.repeat(np.clip(action, -1, 1)[None], k, axis=0).astype(np.float32)
        for a in actions:
            env.step(a)
        pair = np.stack([first, env.camera_image()])
        for name, invdyn in agents.items():
            errors[name].append(float(np.abs(invdyn.actions(pair) - actions).mean()))
    env.close()
    return {name: float(np.mean(e)) for name, e in errors.items()}


def replay_success(agents: dict, tasks: list[str], episodes: int, seed: int, image_size: int) -> dict:
    """Success rate per task of the expert itself and of each inverse-dynamics model replaying it."""
    env, lookahead = TabletopEnv(image_size=image_size), TabletopEnv(image_size=image_size)
    results = {}
    for task in tasks:
        seeds = [EVAL_SEED_BASE + seed + i for i in range(episodes)]
        row = {"seeds": seeds, "expert": float(np.mean([run_expert_episode(env, s, task)["success"] for s in seeds]))}
        for name, invdyn in agents.items():
            runs = [replay_episode(invdyn, env, lookahead, s, task) for s in seeds]
            row[name] = float(np.mean([r["success"] for r in runs]))
            row[f"{name}_steps"] = float(np.mean([r["steps"] for r in runs]))
        results[task] = row
        print(f"  {task:16s} " + "  ".join(f"{n}={row[n]:.2f}" for n in ["expert", *agents]), flush=True)
    env.close()
    lookahead.close()
    return results


def table(results: dict, names: list[str]) -> str:
    lines = ["| task | " + " | ".join(names) + " |", "|" + " --- |" * (len(names) + 1)]
    for task, row in results.items():
        lines.append(f"| {task} | " + " | ".join(f"{row[n]:.2f}" for n in names) + " |")
    mean = {n: np.mean([row[n] for row in results.values()]) for n in names}
    lines.append("| **mean** | " + " | ".join(f"**{mean[n]:.2f}**" for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="saved model dir, step-* checkpoint or run dir (latest)")
    p.add_argument("--episodes", type=int, default=20, help="evaluation episodes per task")
    p.add_argument("--tasks", default="all", help="'all' or comma-separated task ids")
    p.add_argument("--seed", type=int, default=0, help="episode i uses seed EVAL_SEED_BASE + seed + i")
    p.add_argument("--val-data", default=None, help="held-out recorded episodes for the one-step action error")
    p.add_argument("--tracker", action="store_true", help="also replay with the classical pusher tracker")
    p.add_argument("--out", default=None, help="JSON output (default: <checkpoint>/invdyn_eval.json)")
    args = p.parse_args()
    torch.set_num_threads(1)

    model = InverseDynamicsCNN.from_pretrained(args.checkpoint)
    tasks = list(TASKS) if args.tasks == "all" else args.tasks.split(",")
    report = {"checkpoint": str(args.checkpoint), "model": model.config.to_dict(), "episodes": args.episodes, "seed": args.seed,
              "tasks": tasks, "machine": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    if args.val_data:
        val = FramePairs(args.val_data, stride=model.frame_stride, context=model.context)
        report["one_step"] = {"data": args.val_data, **action_error(model, val)}
        o = report["one_step"]
        print(f"one-step action error on {o['windows']} held-out windows: MSE {o['mse']:.4f}, "
              f"MAE {o['mae']:.4f} (= {o['mae_m'] * 1000:.2f} mm per step); net move over "
              f"{model.frame_stride} steps: {o['net_mae_m'] * 1000:.2f} mm")
    agents = {"invdyn": model}
    if args.tracker:
        agents["tracker"] = PusherTracker(frame_stride=model.frame_stride)
    report["random_action_mae"] = random_action_error(agents, 200, args.seed, model.image_size, model.frame_stride)
    print("MAE on random (non-expert) moves: " + ", ".join(f"{n} {v:.3f}" for n, v in report["random_action_mae"].items()))
    t0 = time.perf_counter()
    report["replay"] = replay_success(agents, tasks, args.episodes, args.seed, model.image_size)
    report["replay_seconds"] = time.perf_counter() - t0
    names = ["expert", *agents]
    print(f"\nclosed-loop replay of the expert's future frames (k={model.frame_stride}), success rate, "
          f"{args.episodes} eval episodes per task:\n")
    print(table(report["replay"], names))
    out = Path(args.out) if args.out else _default_out(Path(args.checkpoint))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")


def _default_out(checkpoint: Path) -> Path:
    return (checkpoint if checkpoint.is_dir() else checkpoint.parent) / "invdyn_eval.json"


if __name__ == "__main__":
    main()
