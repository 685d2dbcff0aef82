"""Seconds per imagined clip of the world models on this CPU: each sampler at K = 1, 4 and 16 clips per call,
on 1 and 2 threads, side by side, with the floating-point work per clip and how far each call is from the
time this CPU's matrix multiply would need for that work.

    python benchmarks/videomodel_speed.py [--sampler NAME=MODEL:STEPS:CFG[:DTYPE] ...] [--env tabletop|metaworld]
        [--repeats 5] [--seed 0] [--out benchmarks/results/videomodel_speed.json]

Default samplers: the shipped tabletop DiT as it ships (Euler 8 steps, guidance 2.0: 16 evaluations), at
4 steps, and its distilled student in one evaluation (checkpoints/videomodel-distilled, if present), in float32
and under bfloat16 autocast.
Each call is `imagine(image, subgoal, K)` on a real first frame (encode, sample, decode): the median of
`--repeats` calls after one warm-up call. FLOPs are counted by torch.utils.flop_counter on one call (matrix
multiplies, convolutions, attention); the bound is those FLOPs at the GFLOP/s of a 1024 x 1024 float32
matrix multiply measured in the same run on the same threads. Run it on a quiet machine: another job on the
two cores halves what it measures.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import sim  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from training.atomic import atomic_write
from videomodel.world_model import DiTWorldModel

DEFAULT_SAMPLERS = ("many-step=checkpoints/videomodel:8:2.0", "4-step=checkpoints/videomodel:4:2.0",
                    "distilled=checkpoints/videomodel-distilled:1:1.0",
                    "distilled-bf16=checkpoints/videomodel-distilled:1:1.0:bfloat16")


def first_frame(env_name: str, seed: int) -> tuple[np.ndarray, str]:
    """A real first camera frame and its first subgoal's text."""
    if env_name == "metaworld":
        from sim.metaworld.env import MetaWorldEnv
        env = MetaWorldEnv(task="door-open", camera="corner", image_size=64)
        obs, info = env.reset(seed=seed)
        text = info["instruction"]
    else:
        from sim.env import TabletopEnv
        from sim.tasks import EVAL_SEED_BASE
        env = TabletopEnv(image_size=64)
        obs, _ = env.reset(seed=EVAL_SEED_BASE + seed, options={"task": "push_to_corner"})
        text = env.subgoals[0].text
    env.close()
    return obs["image"], text


def matmul_gflops(repeats: int = 20, n: int = 1024) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def imagine_flops(model: DiTWorldModel, image: np.ndarray, text: str, k: int) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        model.imagine(image, text, k, seed=0)
    return counter.get_total_flops()


def time_imagine(model: DiTWorldModel, image: np.ndarray, text: str, k: int, repeats: int, seed: int) -> float:
    model.imagine(image, text, k, seed=seed)  # warm-up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        model.imagine(image, text, k, seed=seed + r)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def parse_sampler(spec: str) -> tuple[str, str, int, float, str]:
    try:
        name, rest = spec.split("=", 1)
        parts = rest.split(":")
        dtype = parts.pop() if parts[-1] in ("float32", "bfloat16") else "float32"
        path, steps, cfg = ":".join(parts[:-2]), int(parts[-2]), float(parts[-1])
        if not path:
            raise ValueError
        return name, path, steps, cfg, dtype
    except (ValueError, IndexError):
        raise SystemExit(f"videomodel_speed: --sampler {spec!r} is not "
                         "NAME=MODEL:STEPS:CFG[:float32|bfloat16]") from None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sampler", action="append", help="NAME=MODEL:STEPS:CFG (repeatable); default: "
                   + ", ".join(DEFAULT_SAMPLERS))
    p.add_argument("--env", choices=("tabletop", "metaworld"), default="tabletop", help="where the first frame is from")
    p.add_argument("--ks", default="1,4,16", help="clips per call")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/videomodel_speed.json")
    args = p.parse_args()
    specs = [parse_sampler(s) for s in (args.sampler or DEFAULT_SAMPLERS)]
    missing = [path for _, path, *_ in specs if not Path(path).exists()]
    if args.sampler and missing:
        raise SystemExit(f"videomodel_speed: no model at {missing[0]}")
    specs = [s for s in specs if Path(s[1]).exists()]
    ks = [int(k) for k in args.ks.split(",")]
    image, text = first_frame(args.env, args.seed)

    rows, gflops, first = [], {}, None
    for threads in (1, 2):
        torch.set_num_threads(threads)
        gflops[threads] = matmul_gflops()
        print(f"threads {threads}: float32 matmul {gflops[threads]:.1f} GFLOP/s", flush=True)
        for name, path, steps, cfg_scale, dtype in specs:
            model = DiTWorldModel.from_pretrained(path, cfg_scale=cfg_scale, sampler={"name": "euler", "steps": steps},
                                                  inference_dtype=dtype)
            first = first or model
            for k in ks:
                flops = imagine_flops(model, image, text, k)
                seconds = time_imagine(model, image, text, k, args.repeats, args.seed)
                bound = flops / (gflops[threads] * 1e9)
                rows.append({"sampler": name, "model": path, "steps": steps, "cfg_scale": cfg_scale, "dtype": dtype,
                             "nfe": model.function_evaluations, "threads": threads, "K": k, "seconds_per_call": seconds,
                             "seconds_per_clip": seconds / k, "gflop_per_call": flops / 1e9,
                             "flop_bound_seconds": bound, "ratio_to_bound": seconds / bound})

    header = "| sampler | steps | NFE | threads | K | s per call | s per clip | GFLOP per call | × FLOP bound |"
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in sorted(rows, key=lambda r: (r["K"], r["threads"], r["nfe"])):
        print(f"| {r['sampler']} | {r['steps']} | {r['nfe']} | {r['threads']} | {r['K']} | {r['seconds_per_call']:.3f} "
              f"| {r['seconds_per_clip']:.3f} | {r['gflop_per_call']:.2f} | {r['ratio_to_bound']:.1f} |")
    report = {"env": args.env, "subgoal": text, "seed": args.seed, "repeats": args.repeats,
              "horizon": first.horizon, "tokens_per_clip": (1 + first.horizon) * first.dit.tokens_per_frame,
              "dit_parameters": sum(p.numel() for p in first.dit.parameters()),
              "matmul_gflops": {str(k): v for k, v in gflops.items()},
              "machine": {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__},
              "rows": rows}
    atomic_write(args.out, json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
