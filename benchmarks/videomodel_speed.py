"""Seconds per imagined clip of the DiT world model on this CPU: K = 1 and K = 4 clips per call, with and without
classifier-free guidance, at a few sampler step counts, on 1 and 2 threads.

    python benchmarks/videomodel_speed.py [--model checkpoints/videomodel] [--repeats 5] [--seed 0]
        [--out benchmarks/results/videomodel_speed.json]

Each call is `imagine(image, subgoal, K)` on a real first frame of the tabletop (encode, sample, decode), the
median of `--repeats` calls after one warm-up call. Prints a table and writes JSON with the machine and seed.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import sim  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from sim.env import TabletopEnv
from sim.tasks import EVAL_SEED_BASE
from videomodel.world_model import DiTWorldModel


def time_imagine(model: DiTWorldModel, image: np.ndarray, text: str, k: int, repeats: int, seed: int) -> float:
    model.imagine(image, text, k, seed=seed)  # warm-up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        model.imagine(image, text, k, seed=seed + r)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="checkpoints/videomodel", help="a saved world model or training run dir")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", default="4,8", help="sampler step counts to time")
    p.add_argument("--out", default="benchmarks/results/videomodel_speed.json")
    args = p.parse_args()

    env = TabletopEnv(image_size=64)
    obs, _ = env.reset(seed=EVAL_SEED_BASE + args.seed, options={"task": "push_to_corner"})
    text = env.subgoals[0].text
    env.close()

    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for steps in (int(s) for s in args.steps.split(",")):
            for cfg_scale in (1.0, 2.0):
                model = DiTWorldModel.from_pretrained(args.model, cfg_scale=cfg_scale,
                                                      sampler={"name": "euler", "steps": steps})
                for k in (1, 4):
                    seconds = time_imagine(model, obs["image"], text, k, args.repeats, args.seed)
                    rows.append({"threads": threads, "sampler_steps": steps, "cfg_scale": cfg_scale, "K": k,
                                 "seconds_per_call": seconds, "seconds_per_clip": seconds / k})
                    print(f"threads {threads}  euler {steps:2d} steps  cfg {cfg_scale:.1f}  K={k}: "
                          f"{seconds:6.3f} s per call, {seconds / k:6.3f} s per clip", flush=True)
    horizon = model.horizon
    report = {"model": args.model, "horizon": horizon, "frame_stride": model.frame_stride,
              "tokens_per_clip": (1 + horizon) * model.dit.tokens_per_frame,
              "dit_parameters": sum(p.numel() for p in model.dit.parameters()), "seed": args.seed,
              "repeats": args.repeats, "subgoal": text, "machine": {"cpu": platform.processor() or platform.machine(),
                                                                    "torch": torch.__version__}, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
