"""Does the world model imagine the right motion? Pusher and subgoal-block motion in imagined clips against the
SimulatorOracle's clip (the expert carrying the subgoal out), read off the frames with sim.detector.

    python benchmarks/imagined_motion.py [--models checkpoints/videomodel ...] [--starts 4] [--samples 4]
        [--advance 0] [--out benchmarks/results/imagined_motion.json]

Start states: `--starts` per single-step task at seeds 2,000,000 + i (outside training and evaluation), taken
`--advance` expert steps into the subgoal (0: its start, the pusher still away from the block; ~16: mid-push).
Each model imagines `--samples` clips per state (seeded). Per model: how far the pusher moves over the clip
(context frame to last frame), the cosine of that displacement with the oracle's, how often the pusher is missing
from the last frame, how far the subgoal's block moves, and how far along to its goal the last frame puts it (the
search's `ClipScorer.progress`: 1 = the subgoal holds; a world model too sure of success scores above the oracle).
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch

import sim  # noqa: F401  (sets MUJOCO_GL before mujoco loads)
from dreamplan.fidelity import FidelityCase, start_state
from sim.oracles import SimulatorOracle
from dreamplan.perception import detected_positions
from dreamplan.search import ClipScorer
from sim.detector import detect_blocks, pusher_position
from sim.env import TabletopEnv
from sim.expert import ScriptedExpert
from sim.targets import Subgoal
from videomodel.world_model import DiTWorldModel

TASKS = ("push_to_corner", "push_next_to", "push_to_center")
SEED_BASE = 2_000_000


def block_xy(frame: np.ndarray, block) -> np.ndarray | None:
    return detected_positions(detect_blocks(frame)).get(block)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["checkpoints/videomodel"])
    p.add_argument("--starts", type=int, default=4, help="start states per task")
    p.add_argument("--samples", type=int, default=4, help="clips per start state and model")
    p.add_argument("--advance", type=int, default=0, help="expert steps into the subgoal before imagining")
    p.add_argument("--out", default="benchmarks/results/imagined_motion.json")
    args = p.parse_args()
    torch.set_num_threads(2)
    env = TabletopEnv(image_size=64)
    models = {path: DiTWorldModel.from_pretrained(path) for path in args.models}
    shapes = {(m.horizon, m.frame_stride) for m in models.values()}
    if len(shapes) != 1:
        raise SystemExit(f"the models imagine clips of different (horizon, frame_stride) {sorted(shapes)}")
    horizon, stride = shapes.pop()
    oracle = SimulatorOracle(horizon=horizon, frame_stride=stride)
    stats = {name: {"pusher_cm": [], "cos": [], "missing": 0, "clips": 0, "block_cm": [], "progress": []}
             for name in ["oracle", *models]}
    scorer = ClipScorer(frame_stride=stride)
    for task in TASKS:
        for i in range(args.starts):
            start_state(env, FidelityCase(task, SEED_BASE + i, 0))
            subgoal = env.subgoals[0]
            scored = Subgoal(subgoal.text, subgoal)
            expert = ScriptedExpert([subgoal], max_step=env.max_step)
            for _ in range(args.advance):
                env.step(expert.act_in(env))
            snap = env.snapshot()
            oracle.attach(env)
            image = env.camera_image()
            clips = {"oracle": oracle.imagine(image, subgoal.text, 1)}
            env.restore(snap)
            clips |= {name: m.imagine(image, subgoal.text, args.samples, seed=i) for name, m in models.items()}
            pusher0, block0 = pusher_position(image), block_xy(image, subgoal.block)
            oracle_move = pusher_position(clips["oracle"][0, -1]) - pusher0
            for name, clip_set in clips.items():
                s = stats[name]
                for clip in clip_set:
                    s["clips"] += 1
                    s["progress"].append(scorer.progress(image, clip[-1], scored))
                    pusher = pusher_position(clip[-1])
                    if pusher is None:
                        s["missing"] += 1
                        continue
                    move = pusher - pusher0
                    s["pusher_cm"].append(100 * float(np.linalg.norm(move)))
                    s["cos"].append(float(move @ oracle_move / (np.linalg.norm(move) * np.linalg.norm(oracle_move) + 1e-9)))
                    block = block_xy(clip[-1], subgoal.block)
                    if block is not None and block0 is not None:
                        s["block_cm"].append(100 * float(np.linalg.norm(block - block0)))
    rows = [{"model": name, "clips": s["clips"], "pusher_moved_cm": float(np.mean(s["pusher_cm"])),
             "direction_cos_to_oracle": float(np.mean(s["cos"])), "pusher_missing": s["missing"] / s["clips"],
             "subgoal_block_moved_cm": float(np.mean(s["block_cm"])), "progress": float(np.mean(s["progress"]))}
            for name, s in stats.items()]
    print("| model | clips | pusher moved, cm | direction cos to oracle | pusher missing | subgoal block moved, cm | progress |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['clips']} | {r['pusher_moved_cm']:.1f} | {r['direction_cos_to_oracle']:.2f} | "
              f"{r['pusher_missing']:.0%} | {r['subgoal_block_moved_cm']:.1f} | {r['progress']:.2f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "tasks": TASKS, "seeds": [SEED_BASE + i for i in range(args.starts)],
                                          "advance": args.advance,
                                          "samples": args.samples, "machine": platform.platform()}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
