"""Planner examples from the task registry: (64x64 scene, instruction) -> the reference plan (`env.subgoals`).

Example i of a set uses seed `seed_base + i` and task `tasks[i % len(tasks)]`, so a set is fully determined
by (split, frames, seed_base, tasks, image_size) and is cached on disk in chunks (generation resumes chunk by
chunk). frames="mid" takes each scene part-way through the expert's episode (sim.scene_records); seeds whose
task is already done there are left out, so such a set holds fewer examples than seeds.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sim.scene_records import record_scenes
from sim.tasks import TASKS
from training.atomic import atomic_path

CHUNK = 250  # examples per cache file


@dataclass
class PlanExamples:
    images: np.ndarray  # uint8 [N, S, S, 3]
    records: list[dict] = field(default_factory=list)  # seed, task, split, instruction, blocks, pixels, subgoals

    def __len__(self) -> int:
        return len(self.records)

    def take(self, n: int) -> "PlanExamples":
        return PlanExamples(self.images[:n], self.records[:n])


def _chunk_path(cache: Path, split: str, frames: str, seed_base: int, start: int, n: int) -> Path:
    stem = split if frames == "first" else f"{split}-{frames}"
    return cache / f"{stem}-{seed_base}-{start:07d}-{n}.npz"


def _write_chunk(path: Path, split: str, seeds: range, tasks: list[str], image_size: int, frames: str) -> Path:
    images, records = record_scenes(split, seeds, tasks, image_size, frames)
    with atomic_path(path) as tmp:
        np.savez(tmp, images=images, records=json.dumps(records))
    return path


def load_examples(cache: str | Path, split: str, num: int, seed_base: int, tasks: list[str] | None = None,
                  image_size: int = 64, progress: bool = True, workers: int = 1, frames: str = "first") -> PlanExamples:
    """The examples of `num` seeds of `split`, read from `cache` where already generated, generated (and cached, one chunk
    per process of `workers`) otherwise."""
    tasks = sorted(tasks or TASKS)
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    meta = {"tasks": tasks, "image_size": image_size, "blocks": "left to right", "pixels": "top face centre"}
    meta_file = cache / "meta.json"
    if meta_file.exists() and json.loads(meta_file.read_text()) != meta:
        raise ValueError(f"{cache} caches examples of another task list, image size or record format "
                         f"({meta_file.read_text()}); use another cache dir")
    meta_file.write_text(json.dumps(meta))
    chunks = [(_chunk_path(cache, split, frames, seed_base, start, min(CHUNK, num - start)),
               range(seed_base + start, seed_base + start + min(CHUNK, num - start))) for start in range(0, num, CHUNK)]
    missing = [(path, seeds) for path, seeds in chunks if not path.exists()]
    bar = tqdm(total=len(missing), desc=f"{split} ({frames} frames) examples", unit="chunk", disable=not progress or not missing,
               mininterval=5)
    if workers > 1 and len(missing) > 1:
        with ProcessPoolExecutor(min(workers, len(missing))) as pool:
            for _ in pool.map(_write_chunk, *zip(*[(p, split, s, tasks, image_size, frames) for p, s in missing])):
                bar.update()
    else:
        for path, seeds in missing:
            _write_chunk(path, split, seeds, tasks, image_size, frames)
            bar.update()
    bar.close()
    parts = []
    for path, _ in chunks:
        with np.load(path) as z:
            parts.append(PlanExamples(z["images"], json.loads(str(z["records"]))))
    return PlanExamples(np.concatenate([p.images for p in parts]), [r for p in parts for r in p.records])
