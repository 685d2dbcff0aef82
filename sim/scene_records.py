"""Rendered scenes with their reference plans: the planner's training and evaluation examples.

Each record holds the scene's task, instruction, blocks (left to right, the camera's x), the image pixel of each
block's top face centre (the planner's auxiliary perception target) and the reference subgoals.
"""

from __future__ import annotations

import numpy as np

from sim.detector import BLOCK_TOP, world_to_pixel
from sim.env import TabletopEnv


def scene_record(env: TabletopEnv) -> dict:
    """The record of the env's current scene (after reset)."""
    inst = env.instance
    pos = env.block_positions()
    blocks = sorted(inst.blocks, key=lambda b: pos[b][0])
    size = env.observation_space["image"].shape[0]
    pixels = [world_to_pixel(pos[b], BLOCK_TOP, size).round(2).tolist() for b in blocks]
    return {"task": inst.task, "instruction": inst.instruction, "blocks": [b.name for b in blocks],
            "pixels": pixels, "subgoals": [t.text for t in env.subgoals]}


def record_scenes(split: str, seeds: range, tasks: list[str], image_size: int = 64) -> tuple[np.ndarray, list[dict]]:
    """(uint8 images [N, S, S, 3], records) of the scenes seed i of `seeds` gives for task tasks[i % len(tasks)]."""
    env = TabletopEnv(image_size=image_size)
    images, records = [], []
    try:
        for seed in seeds:
            task = tasks[seed % len(tasks)]
            obs, _ = env.reset(seed=seed, options={"task": task, "split": split})
            images.append(obs["image"])
            records.append({"seed": seed, "split": split, **scene_record(env)})
    finally:
        env.close()
    return np.stack(images), records
