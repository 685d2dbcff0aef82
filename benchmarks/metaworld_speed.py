"""Meta-World v3 env steps/s: Meta-World's default rendering next to ours (needs the metaworld extra).

    python benchmarks/metaworld_speed.py [--task door-open-v3] [--steps 300] [--repeats 2] [--out benchmarks/results/metaworld_speed.json]

Each figure is env.step + one camera frame per step, random actions, one thread:
  metaworld_default  gymnasium.make("Meta-World/MT1", render_mode="rgb_array", camera_name=..., width=S, height=S),
                     step() then render(): Gymnasium's MujocoRenderer with MuJoCo's defaults (4x multisampling,
                     shadows, reflections, skybox)
  ours               sim.metaworld.env.MetaWorldEnv(image_size=S): FastRenderer, those off, offsamples = 0
  physics_only       the same Meta-World env stepped without any frame
Repeats alternate between the sides and keep each side's best (other processes share the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import sim  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
import gymnasium as gym
import mujoco


def _actions(steps: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(steps, 4)).astype(np.float32)


def default_rate(task: str, camera: str, size: int, steps: int, seed: int) -> float:
    import metaworld  # noqa: F401  (registers Meta-World/MT1)

    env = gym.make("Meta-World/MT1", env_name=task, seed=seed, render_mode="rgb_array", camera_name=camera,
                   width=size, height=size)
    env.reset(seed=seed)
    env.render()  # the GL context is made on the first frame
    t0 = time.perf_counter()
    for a in _actions(steps, seed):
        _, _, terminated, truncated, _ = env.step(a)
        env.render()
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def our_rate(task: str, camera: str, size: int, steps: int, seed: int, render: bool = True) -> float:
    from sim.metaworld.env import MetaWorldEnv

    env = MetaWorldEnv(task, camera=camera, image_size=size)
    env.reset(seed=seed)
    mw = env.unwrapped._mw
    t0 = time.perf_counter()
    for a in _actions(steps, seed):
        if render:
            env.step(a)
        else:
            mw.step(a)
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="door-open-v3")
    parser.add_argument("--camera", default="corner")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 480])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/metaworld_speed.json")
    args = parser.parse_args()

    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for size in args.sizes:
            for name, fn in (("metaworld_default", default_rate), ("ours", our_rate)):
                key = f"{name}_{size}px"
                best[key] = max(best.get(key, 0.0), fn(args.task, args.camera, size, args.steps, args.seed))
        best["physics_only"] = max(best.get("physics_only", 0.0),
                                   our_rate(args.task, args.camera, 64, args.steps, args.seed, render=False))
    for key, value in best.items():
        print(f"{key:28s} {value:8.1f} steps/s")
    result = {"task": args.task, "camera": args.camera, "steps": args.steps, "repeats": args.repeats, "seed": args.seed,
              "steps_per_second": {k: round(v, 1) for k, v in best.items()},
              "mujoco": mujoco.__version__, "python": platform.python_version(), "machine": platform.machine(),
              "cpus": os.cpu_count(), "mujoco_gl": os.environ.get("MUJOCO_GL"),
              "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "LP_NUM_THREADS")},
              "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
