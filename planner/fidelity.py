"""Imagination fidelity: is the video model a world simulator?

For held-out start states and subgoals: imagine a clip, read its actions off with inverse dynamics, execute
them in MuJoCo from the same state, and compare what was imagined with what physically happened:
per-frame PSNR and SSIM, block-position error (color-segmentation detector on both), and physics
violations inside the imagined clip itself: blocks appearing or vanishing (object permanence), blocks
moving with nothing touching them, blocks overlapping (interpenetration).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sim.detector import Detection, detect_blocks, pusher_position
from sim.env import TabletopEnv
from sim.expert import ScriptedExpert
from sim.scene import BLOCK_HALF, PUSHER_RADIUS
from sim.tasks import EVAL_SEED_BASE

MOVE_EPS = 0.01  # a block "moved" between frames if its detection shifted more than this (m)
TOUCH = BLOCK_HALF * np.sqrt(2) + PUSHER_RADIUS + 0.02  # pusher this close may be touching a block (m)
BLOCK_TOUCH = 2 * BLOCK_HALF * np.sqrt(2) + 0.01
OVERLAP = 1.5 * BLOCK_HALF  # two block centres closer than this interpenetrate (m)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """Mean SSIM over channels with a uniform window (Wang et al. 2004; skimage's defaults)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def box(x):  # mean over window x window neighbourhoods ('valid' region), via an integral image
        s = np.pad(x, ((1, 0), (1, 0), (0, 0))).cumsum(0).cumsum(1)
        w = window
        return (s[w:, w:] - s[:-w, w:] - s[w:, :-w] + s[:-w, :-w]) / (w * w)

    n = window * window
    mu_a, mu_b = box(a), box(b)
    var_a = (box(a * a) - mu_a**2) * n / (n - 1)
    var_b = (box(b * b) - mu_b**2) * n / (n - 1)
    cov = (box(a * b) - mu_a * mu_b) * n / (n - 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def _match(a: list[Detection], b: list[Detection]) -> list[tuple[Detection, Detection]]:
    """Pair detections of the same color, nearest first."""
    pairs, used = [], set()
    cands = sorted(((np.linalg.norm(x.xy - y.xy), i, j) for i, x in enumerate(a) for j, y in enumerate(b)
                    if x.color == y.color))
    taken_a = set()
    for _, i, j in cands:
        if i not in taken_a and j not in used:
            pairs.append((a[i], b[j]))
            taken_a.add(i)
            used.add(j)
    return pairs


def _area_by_color(detections: list[Detection]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in detections:
        out[d.color] = out.get(d.color, 0) + d.area
    return out


def physics_violations(frames: np.ndarray) -> dict[str, int]:
    """Counts over an imagined clip [T+1, H, W, 3] whose first frame is real."""
    dets = [detect_blocks(f) for f in frames]
    pushers = [pusher_position(f) for f in frames]
    out = {"permanence": 0, "moved_without_contact": 0, "interpenetration": 0}
    area0 = _area_by_color(dets[0])
    for t in range(1, len(frames)):
        # by area, not by count: two same-color blocks pushed together are one blob, yet both still there
        area = _area_by_color(dets[t])
        out["permanence"] += int(any(not 0.6 <= area.get(c, 0) / a0 <= 1.6 for c, a0 in area0.items())
                                 or any(c not in area0 for c in area))
        for i, x in enumerate(dets[t]):
            out["interpenetration"] += int(sum(np.linalg.norm(x.xy - y.xy) < OVERLAP for y in dets[t][i + 1 :]))
        for before, after in _match(dets[t - 1], dets[t]):
            if np.linalg.norm(after.xy - before.xy) <= MOVE_EPS:
                continue
            near_pusher = any(p is not None and min(np.linalg.norm(p - before.xy), np.linalg.norm(p - after.xy)) < TOUCH
                              for p in (pushers[t - 1], pushers[t]))
            near_block = any(np.linalg.norm(o.xy - before.xy) < BLOCK_TOUCH for o in dets[t - 1] if o is not before)
            out["moved_without_contact"] += int(not (near_pusher or near_block))
    return out


def block_position_error(imagined: np.ndarray, real: np.ndarray) -> float:
    """Mean distance (m) between each real block and the same-color block in the imagined frame; a real
    block with no imagined counterpart counts as the table's half-width."""
    errs = []
    for im, re in zip(imagined, real):
        di, dr = detect_blocks(im), detect_blocks(re)
        pairs = _match(dr, di)
        errs += [np.linalg.norm(r.xy - i.xy) for r, i in pairs] + [0.25] * (len(dr) - len(pairs))
    return float(np.mean(errs)) if errs else 0.0


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
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / ".fidelity.json.tmp"
    tmp.write_text(json.dumps({"config": config or {}, "summary": summary, "clips": records}, indent=2))
    os.replace(tmp, path / "fidelity.json")
    (path / "fidelity.md").write_text(fidelity_table(summary))
    return summary
