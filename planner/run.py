"""`dreamplan run "INSTRUCTION"`: one episode of the whole stack, told as it happens, saved as an mp4."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from tqdm import tqdm

from planner.evaluate import comparison_video
from training.rng import seed_everything


def run_instruction(env, agent, instruction: str, seed: int, out: str | None, frame_stride: int) -> dict:
    """Reset `env` to a scene that fits `instruction`, let `agent` carry it out, write the video."""
    import imageio.v3 as iio

    _, info = env.reset(seed=seed, options={"instruction": instruction})
    seed_everything(seed)  # a sampling world model imagines the same clips for the same seed
    base = env.unwrapped
    print(f"scene (seed {seed}): {', '.join(b.name for b in base.blocks)}")
    bar = None

    def on_event(kind, payload):
        nonlocal bar
        if kind == "plan":
            if bar is not None:
                bar.close()
            heading = "plan" if bar is None else "re-plan from what really happened"
            print(f"{heading}:" + "".join(f"\n  {i + 1}. {sg.text}" for i, sg in enumerate(payload)))
            bar = tqdm(total=len(payload), desc="subgoals", unit="subgoal")
        elif kind == "subgoal":
            bar.update(1)
            bar.set_postfix_str(f"{'done' if payload['success'] else 'missed'}: {payload['text']}")

    t0 = time.perf_counter()
    episode = agent.run(env, instruction, on_event=on_event)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    slug = re.sub(r"[^a-z0-9]+", "-", instruction.lower()).strip("-")[:60]
    path = Path(out or f"runs/run/{slug}-seed{seed}.mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    iio.imwrite(tmp, comparison_video(episode, frame_stride, scale=4), fps=20, codec="libx264", macro_block_size=1)
    os.replace(tmp, path)
    verdict = "success" if episode.success else f"failed: {episode.failure}"
    print(f"{verdict} after {episode.steps} steps in {seconds:.1f} s "
          f"({', '.join(f'{k} {v:.1f} s' for k, v in episode.timings.items())})")
    print(f"video (imagined top, real bottom): {path}")
    return {"success": episode.success, "failure": episode.failure, "video": str(path), "seconds": seconds,
            "steps": episode.steps, "reference_subgoals": info["subgoals"]}
