"""Imagination fidelity: is the video model a world simulator?

For held-out start states and subgoals: imagine a clip, read its actions off with inverse dynamics, execute
them in MuJoCo from the same state, and compare what was imagined with what physically happened:
per-frame PSNR and SSIM, block-position error (color-segmentation detector on both), and physics
violations inside the imagined clip itself: blocks appearing or vanishing (object permanence), blocks
moving with nothing touching them, blocks overlapping (interpenetration).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sim.env import TabletopEnv
from sim.expert import ScriptedExpert
from sim.tasks import EVAL_SEED_BASE
from training.atomic import atomic_write
from videomodel.fidelity import block_position_error, physics_violations, psnr, ssim

@dataclass
class FidelityCase:
    task: str
    seed: int
    subgoal: int  # which reference subgoal (the expert carries out the earlier ones to reach its start)


def start_state(env: TabletopEnv, case: FidelityCase) -> dict:
    env.reset(seed=case.seed, options={"task": case.task, "split": "train"})
    expert = ScriptedExpert(env.subgoals[: case.subgoal])
    while not expert.finished and env._steps < env.step_budget:
        env.step(expert.act_in(env))
    return env.snapshot()


def measure(env: TabletopEnv, video_model, invdyn, case: FidelityCase) -> dict:
    snap = start_state(env, case)
    text = env.subgoals[case.subgoal].text
    if hasattr(video_model, "attach"):
        video_model.attach(env)
    image = env.camera_image()
    clip = video_model.imagine(image, text, 1)[0]
    actions = invdyn.actions(np.concatenate([image[None], clip]))
    env.restore(snap)
    k = invdyn.frame_stride
    real = []
    for i, a in enumerate(actions):
        obs, *_ = env.step(a)
        if (i + 1) % k == 0:
            real.append(obs["image"])
    real = np.stack(real)
    return {
        "task": case.task, "seed": case.seed, "subgoal": text,
        "psnr": [psnr(a, b) for a, b in zip(clip, real)],
        "ssim": [ssim(a, b) for a, b in zip(clip, real)],
        "block_error_m": block_position_error(clip, real),
        "violations": physics_violations(np.concatenate([image[None], clip])),
        "subgoal_reached": bool(env.check(env.subgoals[case.subgoal])),
    }


def summarize(records: list[dict]) -> dict:
    out = {}
    for task in sorted({r["task"] for r in records}) + ["all"]:
        rs = [r for r in records if task in ("all", r["task"])]
        finite = [p for r in rs for p in r["psnr"] if np.isfinite(p)]
        out[task] = {
            "cases": len(rs),
            "psnr_db": float(np.mean(finite)) if finite else float("inf"),
            "psnr_per_frame": np.mean([np.minimum(r["psnr"], 99.0) for r in rs], axis=0).tolist(),
            "ssim": float(np.mean([s for r in rs for s in r["ssim"]])),
            "block_error_cm": 100 * float(np.mean([r["block_error_m"] for r in rs])),
            "violations_per_clip": {k: float(np.mean([r["violations"][k] for r in rs])) for k in rs[0]["violations"]},
            "subgoal_reached": float(np.mean([r["subgoal_reached"] for r in rs])),
        }
    return out


def fidelity_table(summary: dict) -> str:
    lines = ["| task | clips | PSNR dB | SSIM | block error cm | permanence | moved w/o contact | interpenetration | reached in one clip |",
             "|---|---|---|---|---|---|---|---|---|"]
    for task, s in summary.items():
        v = s["violations_per_clip"]
        lines.append(f"| {task} | {s['cases']} | {s['psnr_db']:.1f} | {s['ssim']:.3f} | {s['block_error_cm']:.2f} | "
                     f"{v['permanence']:.2f} | {v['moved_without_contact']:.2f} | {v['interpenetration']:.2f} | "
                     f"{s['subgoal_reached']:.0%} |")
    return "\n".join(lines) + "\n"


def run_fidelity(env: TabletopEnv, video_model, invdyn, tasks: list[str], episodes: int, seed: int, out: str,
                 config: dict | None = None) -> dict:
    cases = []
    for task in tasks:
        for i in range(episodes):
            s = EVAL_SEED_BASE + seed + i
            env.reset(seed=s, options={"task": task, "split": "train"})
            cases.append(FidelityCase(task, s, 0))
            if i % 2 and len(env.subgoals) > 1:  # every other episode also from a state mid-task
                cases.append(FidelityCase(task, s, 1))
    records = [measure(env, video_model, invdyn, c) for c in tqdm(cases, desc="fidelity", unit="clip")]
    summary = summarize(records)
    path = Path(out)
    atomic_write(path / "fidelity.json", json.dumps({"config": config or {}, "summary": summary, "clips": records}, indent=2))
    atomic_write(path / "fidelity.md", fidelity_table(summary))
    return summary
