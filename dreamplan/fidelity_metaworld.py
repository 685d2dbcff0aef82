"""Imagination fidelity on Meta-World: `dreamplan fidelity env=metaworld suite=metaworld videomodel=dit_metaworld`.

Cases: every AVDC task (suite.tasks, or tasks=) x every camera (the suite's splits: corner, corner2, corner3, or
splits=) x `episodes` evaluation seeds (seed_base + seed + i: AVDC's seeds 0, 1, ...), each from the episode's first
frame and, with mid_steps > 0, also from the state after `mid_steps` steps of Meta-World's scripted policy. From a
case's frame the video model imagines one clip (K = 1, seeded by the case), and so does the still baseline (the frame
held, videomodel.still.StillVideoModel); both are compared frame by frame with the true future, MetaWorldOracle's
clip from the same state: what the scripted policy really does next, every `frame_stride`-th frame. The true
future scored against itself is the oracle's reference row (infinite PSNR, the part always shown).

Metrics (videomodel.fidelity), each over the T frames of a clip, pooled over a row's clips:
- PSNR dB: over the whole frame;
- moving-pixel PSNR dB: over the pixels that move within the true clip, i.e. whose value changes by more than
  MOVE_THRESHOLD (8 uint8 levels, some channel) between the start frame and any true frame (`moving_mask`);
  the still baseline is wrong exactly there, so this is where imagination has to earn its PSNR;
- gripper / object PSNR dB: over the true frame's visible pixels of the gripper ("hand" and its claws and pads) and
  of the task's movable objects, by MuJoCo's segmentation rendering of each true frame
  (sim.metaworld.segmentation, which says how the parts are chosen); the masks move with the true parts;
- gripper / object shown: the fraction of true frames in which the imagined frame shows the part where it truly is
  rather than what was there at the start: inside the part's true mask, on the pixels whose true value differs
  from the start frame's (the part moved into or out of them), the imagined frame's MSE to the true frame is smaller
  than its MSE to the start frame (`nearer_truth`). Frames where no such pixel exists (the part hidden, or unmoved)
  are not counted. The true future scores 100 %, the start frame held still 0 %, by construction.
Every PSNR is that of the mean per-frame MSE (`psnr_of_mse`): a frame that is exactly right adds zero error rather
than an infinite PSNR, so the regions that are right for the still baseline (an unmoved gripper) count fairly.

The scorer reads the simulator (segmentation, the scripted policy's future); the video models see only the start
frame and the task text, as the agent does.
"""

from __future__ import annotations

import inspect
import json
import math
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sim.errors import DreamplanError
from sim.metaworld import task_text
from sim.metaworld.env import MetaWorldEnv
from sim.metaworld.expert import MetaWorldExpert
from sim.metaworld.oracle import MetaWorldOracle
from sim.metaworld.segmentation import PARTS, PartSegmenter
from training.atomic import atomic_write
from videomodel.fidelity import masked_mse, moving_mask, nearer_truth, psnr_of_mse
from videomodel.still import StillVideoModel

REGIONS = ("frame", "moving", *PARTS)
STILL, ORACLE = "still", "oracle (true future)"


@dataclass(frozen=True)
class MetaWorldCase:
    task: str
    camera: str
    seed: int
    start_step: int  # scripted-policy steps taken before imagining (0: the episode's first frame)

    @property
    def sample_seed(self) -> int:
        """The video model's sampling seed: fixed by the case, so a re-run imagines the same clips."""
        return zlib.crc32(f"{self.task}/{self.camera}/{self.seed}/{self.start_step}".encode()) & 0x7FFFFFFF


def fidelity_cases(tasks: list[str], cameras: list[str], episodes: int, seeds_from: int,
                   mid_steps: int) -> list[MetaWorldCase]:
    starts = [0, mid_steps] if mid_steps > 0 else [0]
    return [MetaWorldCase(t, c, seeds_from + i, s) for t in tasks for c in cameras for i in range(episodes)
            for s in starts]


def start_state(env: MetaWorldEnv, case: MetaWorldCase) -> np.ndarray:
    """Put `env` at the case's state (reset, then `start_step` scripted-policy steps); its camera frame."""
    env.reset(seed=case.seed, options={"task": case.task, "camera": case.camera})
    expert = MetaWorldExpert(case.task)
    for _ in range(min(case.start_step, env.max_steps)):
        env.advance(expert.act_in(env))
    return env.camera_image()


def imagine(model, env: MetaWorldEnv, image: np.ndarray, text: str, seed: int) -> np.ndarray:
    """One clip [T, H, W, 3] of `model` from `image`; seeded where the model takes a seed."""
    if hasattr(model, "attach"):
        model.attach(env)
    kwargs = {"seed": seed} if "seed" in inspect.signature(model.imagine).parameters else {}
    return np.asarray(model.imagine(image, text, 1, **kwargs))[0]


def true_future(env: MetaWorldEnv, oracle: MetaWorldOracle, segmenter: PartSegmenter, image: np.ndarray,
                text: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """MetaWorldOracle's clip from env's state, and each part's masks [T, H, W] in it. The masks come from rolling
    the live env on with the scripted policy (as the oracle does in its copy), frame for frame the oracle's: checked."""
    oracle.attach(env)
    truth = oracle.imagine(image, text, 1)[0]
    expert = MetaWorldExpert(env.instance.task)
    frames, masks = [], {p: [] for p in PARTS}
    for i in range(oracle.horizon * oracle.frame_stride):
        if env.steps < env.max_steps:
            env.advance(expert.act_in(env))
        if (i + 1) % oracle.frame_stride == 0:
            frames.append(env.camera_image())
            for part, mask in segmenter.masks(env).items():
                masks[part].append(mask)
    if not np.array_equal(np.stack(frames), truth):
        raise RuntimeError(f"the true future of {env.instance} is not reproducible: the scripted policy's replay "
                           "differs from MetaWorldOracle's clip")
    return truth, {p: np.stack(m) for p, m in masks.items()}


def score(clip: np.ndarray, truth: np.ndarray, image: np.ndarray, masks: dict[str, np.ndarray],
          moving: np.ndarray) -> dict:
    """Per-frame MSE in each region and per-frame "shown" flags of each part (NaN: not counted)."""
    if clip.shape != truth.shape:
        raise DreamplanError(f"the video model imagines clips of shape {clip.shape}, the true future is {truth.shape}")
    regions = {"frame": None, "moving": moving, **masks}
    return {"mse": {r: masked_mse(clip, truth, m).tolist() for r, m in regions.items()},
            "shown": {p: nearer_truth(clip, truth, image, masks[p]).tolist() for p in PARTS}}


def measure(env: MetaWorldEnv, video_model, oracle: MetaWorldOracle, segmenter: PartSegmenter,
            case: MetaWorldCase, name: str) -> dict:
    image = start_state(env, case)
    text = task_text(case.task)
    still = StillVideoModel(oracle.horizon, oracle.frame_stride)
    clips = {name: imagine(video_model, env, image, text, case.sample_seed),
             STILL: imagine(still, env, image, text, case.sample_seed)}
    truth, masks = true_future(env, oracle, segmenter, image, text)  # moves env: after the models imagined
    clips[ORACLE] = truth
    moving = moving_mask(image, truth)
    return {**asdict(case), "sample_seed": case.sample_seed, "text": text,
            "pixels": {"moving": int(moving.sum()), **{p: m.sum((1, 2)).tolist() for p, m in masks.items()}},
            "models": {n: score(c, truth, image, masks, moving) for n, c in clips.items()}}


def _group_rows(records: list[dict]) -> dict[str, list[dict]]:
    groups = {t: [r for r in records if r["task"] == t] for t in dict.fromkeys(r["task"] for r in records)}
    groups["all"] = records
    for camera in dict.fromkeys(r["camera"] for r in records):
        groups[f"all, {camera}"] = [r for r in records if r["camera"] == camera]
    starts = sorted({r["start_step"] for r in records})
    if len(starts) > 1:
        for s in starts:
            groups[f"all, from step {s}"] = [r for r in records if r["start_step"] == s]
    return groups


def summarize(records: list[dict]) -> dict:
    """{group: {model: metrics}}: groups are each task, all, all per camera and (with mid_steps) per start."""
    out = {}
    for group, rs in _group_rows(records).items():
        out[group] = {}
        for model in rs[0]["models"]:
            ms = [r["models"][model] for r in rs]
            row = {"clips": len(rs)}
            for region in REGIONS:
                mse = np.array([v for m in ms for v in m["mse"][region]], dtype=np.float64)  # None -> NaN
                row[f"{region}_psnr_db"] = psnr_of_mse(mse)
            for part in PARTS:
                shown = np.array([v for m in ms for v in m["shown"][part]], dtype=np.float64)
                shown = shown[~np.isnan(shown)]
                row[f"{part}_shown"] = float(shown.mean()) if shown.size else float("nan")
                row[f"{part}_frames_judged"] = int(shown.size)
            out[group][model] = row
    return out


def _db(x: float) -> str:
    return "–" if math.isnan(x) else "∞" if math.isinf(x) else f"{x:.1f}"


def _rate(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.0%}"


def fidelity_table(summary: dict) -> str:
    """Per task the video model and the still baseline; over all clips also the true future (the reference);
    "all, <camera>" and "all, from step <n>" rows split the same clips by camera and start."""
    lines = ["| task | video model | clips | PSNR dB | moving-pixel PSNR dB | gripper PSNR dB | object PSNR dB | "
             "gripper shown | object shown |", "|---|---|---|---|---|---|---|---|---|"]
    for group, models in summary.items():
        for model, s in models.items():
            if model == ORACLE and group != "all":
                continue
            cells = [group, model, str(s["clips"]), *(_db(s[f"{r}_psnr_db"]) for r in REGIONS),
                     *(_rate(s[f"{p}_shown"]) for p in PARTS)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _json_ready(x):
    """NaN (a region empty in a frame, a part never judged) as null; inf stays (Python's json reads it back)."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _json_ready(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_ready(v) for v in x]
    return x


def run_fidelity(env: MetaWorldEnv, video_model, tasks: list[str], cameras: list[str], episodes: int,
                 seeds_from: int, mid_steps: int, out: str, config: dict | None = None) -> dict:
    env = env.unwrapped
    if not isinstance(env, MetaWorldEnv):
        raise DreamplanError("the Meta-World fidelity run needs env=metaworld")
    horizon, stride = int(getattr(video_model, "horizon", 4)), int(getattr(video_model, "frame_stride", 8))
    oracle, segmenter = MetaWorldOracle(horizon=horizon, frame_stride=stride), PartSegmenter()
    name = type(video_model).__name__
    try:
        cases = fidelity_cases(tasks, cameras, episodes, seeds_from, mid_steps)
        records = []
        for i, case in enumerate(tqdm(cases, desc="fidelity", unit="clip")):
            records.append(measure(env, video_model, oracle, segmenter, case, name))
            if i + 1 == len(cases) or cases[i + 1].task != case.task:
                # A task's Meta-World envs and GL contexts (~0.5 GB, three of each) are rebuilt on the next reset
                # if needed; released here, memory stays that of one task instead of growing by it for each.
                for holder in (oracle, segmenter, env):
                    holder.close()
    finally:
        oracle.close()
        segmenter.close()
    summary = summarize(records)
    path = Path(out)
    document = {"config": config or {}, "video_model": name, "horizon": horizon, "frame_stride": stride,
                "definitions": (__doc__ or "").split("Metrics", 1)[-1].strip(), "summary": summary, "clips": records}
    atomic_write(path / "fidelity.json", json.dumps(_json_ready(document), indent=2))
    atomic_write(path / "fidelity.md", f"Meta-World imagination fidelity: {name} vs the still baseline vs the true "
                 f"future (MetaWorldOracle), {len(records)} clips of {horizon} frames {stride} steps apart "
                 f"(definitions: dreamplan/fidelity_metaworld.py).\n\n" + fidelity_table(summary))
    return summary
