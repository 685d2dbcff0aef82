"""Rendered scenes with their reference plans: the planner's training and evaluation examples.

Each record holds the scene's task, instruction, blocks (left to right, the camera's x), the image pixel of each
block's top face centre (the planner's auxiliary perception target) and the reference subgoals.

A scene is either the episode's first frame or, with `frames="mid"`, a frame part-way through the scripted
expert's episode (blocks touching, the pusher over one): what an agent re-plans from. Its reference plan is the
task's decomposition at the blocks' positions in that frame.
"""

from __future__ import annotations

import numpy as np

from sim.detector import BLOCK_TOP, world_to_pixel
from sim.env import TabletopEnv
from sim.expert import ScriptedExpert
from sim.tasks import get_task

FRAMES = ("first", "mid")


def scene_record(env: TabletopEnv) -> dict:
    """The record of the env's current scene: the reference plan from the blocks where they stand now."""
    inst = env.instance
    pos = env.block_positions()
    blocks = sorted(inst.blocks, key=lambda b: pos[b][0])
    size = env.observation_space["image"].shape[0]
    pixels = [world_to_pixel(pos[b], BLOCK_TOP, size).round(2).tolist() for b in blocks]
    plan = get_task(inst.task).decompose(inst.params, inst.blocks, pos)
    return {"task": inst.task, "instruction": inst.instruction, "blocks": [b.name for b in blocks],
            "pixels": pixels, "subgoals": [t.text for t in plan]}


def _midway(env: TabletopEnv, rng: np.random.Generator) -> np.ndarray | None:
    """The image after a random number of the scripted expert's steps into the episode (up to about the
    expert's whole episode), or None if the task is done by then (nothing left to plan)."""
    expert = ScriptedExpert(env.subgoals)
    steps = int(rng.integers(5, 40 * max(1, len(env.subgoals)) + 1))
    obs = None
    for _ in range(steps):
        obs, _, done, truncated, _ = env.step(expert.act_in(env))
        if expert.finished or done or truncated:
            break
    inst = env.instance
    if not get_task(inst.task).decompose(inst.params, inst.blocks, env.block_positions()):
        return None
    return obs["image"]


def record_scenes(split: str, seeds: range, tasks: list[str], image_size: int = 64,
                  frames: str = "first") -> tuple[np.ndarray, list[dict]]:
    """(uint8 images [N, S, S, 3], records) of the scenes seed i of `seeds` gives for task tasks[i % len(tasks)];
    with frames="mid" a frame part-way through the expert's episode instead (seeds whose task is finished by
    then are left out)."""
    if frames not in FRAMES:
        raise ValueError(f"unknown frames {frames!r} (known: {', '.join(FRAMES)})")
    env = TabletopEnv(image_size=image_size)
    images, records = [], []
    try:
        for seed in seeds:
            task = tasks[seed % len(tasks)]
            obs, _ = env.reset(seed=seed, options={"task": task, "split": split})
            image = obs["image"] if frames == "first" else _midway(env, np.random.default_rng(seed))
            if image is None:
                continue
            images.append(image)
            records.append({"seed": seed, "split": split, "frames": frames, **scene_record(env)})
    finally:
        env.close()
    if not images:
        return np.zeros((0, image_size, image_size, 3), np.uint8), records
    return np.stack(images), records
