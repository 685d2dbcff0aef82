"""How far the block detector's positions are from the simulator's, on real camera frames.

    python benchmarks/detector_error.py [--scenes 200] [--steps 30] [--out benchmarks/results/detector_error.json]

Training-split scenes (seeds 0..N-1, never evaluation seeds), each also after `--steps` scripted-expert steps so
that blocks sit against the pusher and each other. The agent judges from such frames whether a subgoal is done
(dreamplan.perception.subgoal_holds); its margin is set from the error quantiles printed here.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from tqdm import tqdm

from dreamplan.perception import detected_positions
from sim.detector import detect_blocks
from sim.env import TabletopEnv
from sim.expert import ScriptedExpert
from sim.tasks import TASKS
from training.atomic import atomic_write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=200)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--out", default="benchmarks/results/detector_error.json")
    args = ap.parse_args()
    env = TabletopEnv()
    errors, missed, total = [], 0, 0
    tasks = sorted(TASKS)
    for seed in tqdm(range(args.scenes), desc="scenes"):
        env.reset(seed=seed, options={"task": tasks[seed % len(tasks)]})
        expert = ScriptedExpert(env.subgoals)
        for moment in range(2):
            if moment:
                for _ in range(args.steps):
                    env.step(expert.act_in(env))
            seen = detected_positions(detect_blocks(env.camera_image()))
            for block, xy in env.block_positions().items():
                total += 1
                if block in seen:
                    errors.append(float(np.linalg.norm(seen[block] - xy)))
                else:
                    missed += 1
    env.close()
    e = np.array(errors) * 100
    result = {"scenes": args.scenes, "steps": args.steps, "seeds": [0, args.scenes - 1], "blocks": total,
              "missed": missed, "error_cm": {"mean": e.mean(), "median": float(np.median(e)),
                                             "p95": float(np.percentile(e, 95)), "p99": float(np.percentile(e, 99)),
                                             "max": e.max()}}
    print("| blocks | missed | mean cm | median cm | p95 cm | p99 cm | max cm |\n|---|---|---|---|---|---|---|")
    q = result["error_cm"]
    cells = " | ".join(f"{q[k]:.2f}" for k in ("mean", "median", "p95", "p99", "max"))
    print(f"| {total} | {missed} | {cells} |")
    atomic_write(args.out, json.dumps(result, indent=2, default=float))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
