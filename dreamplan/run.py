"""`dreamplan run "INSTRUCTION"`: one episode of the whole stack, told as it happens, saved as a video
(mp4, or an animated GIF / WebP for a web page, picked by the suffix of `out`)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tqdm import tqdm

from dreamplan.episode import plan_holds, run_episode, start
from dreamplan.evaluate import comparison_video
from dreamplan.scenes import scene_options
from training.atomic import atomic_write


VIDEO_SUFFIXES = (".mp4", ".gif", ".webp")
FPS = 20  # one env step is 50 ms: the mp4 plays in real time
ANIMATION_STRIDE, ANIMATION_SCALE = 2, 3  # GIF / WebP: every 2nd step at 3x (still real time), to stay small


def write_video(path: str | Path, episode, frame_stride: int) -> Path:
    """Imagined frames over real ones (dreamplan.evaluate.comparison_video), written atomically to `path`: an mp4
    (H.264) at 4x, or an animated GIF / WebP (Pillow; loops) of every 2nd step at 3x."""
    import imageio.v3 as iio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"out must end in {', '.join(VIDEO_SUFFIXES)}; got {str(path)!r}")
    # encoded in memory, then written by atomic_write: ffmpeg writing the file itself reports a read-only folder or a
    # full disk on its own stderr (or not at all), where atomic_write raises one OSError naming `path`
    if suffix == ".mp4":
        data = iio.imwrite("<bytes>", comparison_video(episode, frame_stride, scale=4), extension=suffix, fps=FPS,
                           codec="libx264", macro_block_size=1)
    else:
        frames = comparison_video(episode, frame_stride, scale=ANIMATION_SCALE)[::ANIMATION_STRIDE]
        duration = 1000 * ANIMATION_STRIDE / FPS  # ms per frame
        options = {"quality": 80, "method": 6} if suffix == ".webp" else {"optimize": True}
        data = iio.imwrite("<bytes>", frames, plugin="pillow", extension=suffix, duration=duration, loop=0, **options)
    atomic_write(path, data)
    return path


def run_instruction(env, agent, instruction: str, seed: int, out: str | None, frame_stride: int,
                    task: str | None = None, scene: str | None = None) -> dict:
    """Reset `env` to the scene `task`/`scene` pick (by default one of the task the sentence asks for), let `agent`
    carry out `instruction` as typed, print the outcome, write the video."""
    slug = re.sub(r"[^a-z0-9]+", "-", instruction.lower()).strip("-")[:60]
    path = Path(out or f"runs/run/{slug}-seed{seed}.mp4")
    if path.suffix.lower() not in VIDEO_SUFFIXES:  # before the episode, not after it
        raise ValueError(f"out must end in {', '.join(VIDEO_SUFFIXES)}; got {str(path)!r}")
    base = env.unwrapped
    options, predicate = scene_options(instruction, task, scene, env_has_scenes=hasattr(base, "scene"))
    obs, info = start(env, seed, options)
    where = f"scene {scene}" if scene else f"seed {seed}"
    table = ", ".join(b.name for b in base.blocks) if hasattr(base, "blocks") else f"{info['task']}, {info['camera']}"
    print(f"scene ({where}): {table}")
    print(f"scored by: {f'the {predicate} task predicate' if predicate else 'the last plan subgoals holding at the end'}")
    bar, last_plan = None, []

    def on_event(kind, payload):
        nonlocal bar, last_plan
        if kind == "plan":
            last_plan = list(payload)
            if bar is not None:
                bar.close()
            heading = "plan" if bar is None else "re-plan from what really happened"
            print(f"{heading}:" + "".join(f"\n  {i + 1}. {sg.text}" for i, sg in enumerate(payload)))
            bar = tqdm(total=len(payload), desc="subgoals", unit="subgoal")
        elif kind == "subgoal" and bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{'done' if payload['success'] else 'missed'}: {payload['text']}")

    t0 = time.perf_counter()
    episode = run_episode(env, obs, agent, instruction, on_event=on_event)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    if predicate is None:  # no task asks what the sentence asks here: the plan the agent made is the yardstick
        episode.success = plan_holds(env, last_plan)
        episode.failure = None if episode.success else episode.failure or "the plan's subgoals do not all hold"
    verdict = "success" if episode.success else f"failed: {episode.failure}"
    # the outcome first: a video that cannot be written (full disk, read-only folder) must not take it along
    print(f"{verdict} after {episode.steps} steps in {seconds:.1f} s "
          f"({', '.join(f'{k} {v:.1f} s' for k, v in episode.timings.items())})", flush=True)
    write_video(path, episode, frame_stride)
    print(f"video (imagined top, real bottom): {path}")
    return {"success": episode.success, "failure": episode.failure, "video": str(path), "seconds": seconds,
            "steps": episode.steps, "scored_by": predicate or "plan", "reference_subgoals": info["subgoals"]}
