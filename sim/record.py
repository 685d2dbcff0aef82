"""Record scripted-expert episodes into HDF5 shards (resumable: finished shards are kept and skipped)."""

from __future__ import annotations

import json
import multiprocessing as mp
import queue as queue_lib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from sim.dataset import ShardWriter, remove_partial_shards, shard_done, shard_name
from sim.expert import ScriptedExpert
from sim.tasks import EVAL_SEED_BASE, SPLITS, TASKS, get_task


def run_expert_episode(env, seed: int, task: str, split: str = "train") -> dict:
    """Reset `env` with `seed` and let the scripted expert act until success or the step budget runs out."""
    base = env.unwrapped
    obs, info = env.reset(seed=seed, options={"task": task, "split": split})
    initial = base.snapshot()
    expert = ScriptedExpert(base.subgoals, max_step=base.max_step)
    frames, states, actions, subgoal_index = [obs["image"]], [obs["state"]], [], []
    done = False
    while not done:
        action = expert.act_in(env)
        subgoal_index.append(min(expert.index, len(expert.targets) - 1))
        obs, _, terminated, truncated, info = env.step(action)
        actions.append(action)
        frames.append(obs["image"])
        states.append(obs["state"])
        done = terminated or truncated
    reached = info["subgoal_success"].tolist()
    return {
        "frames": np.stack(frames),
        "states": np.stack(states),
        "actions": np.stack(actions).astype(np.float32),
        "subgoal_index": np.asarray(subgoal_index, np.int16),
        "seed": seed,
        "task": task,
        "split": split,
        "instruction": info["instruction"],
        "success": bool(info["success"]),
        "subgoals": [{"text": t.text, "target": t.to_dict(), "reached": r} for t, r in zip(base.subgoals, reached)],
        "initial": initial,
    }


@dataclass
class RecordJob:
    out: str
    tasks: Sequence[str]
    split: str = "train"
    episodes: int = 100
    episodes_per_shard: int = 50
    seed: int = 0
    workers: int = 1
    env_factory: Callable = field(default=None, repr=False)  # () -> TabletopEnv
    env_config: dict = field(default_factory=dict)

    def validate(self) -> None:
        for name in ("episodes", "episodes_per_shard", "seed", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        for t in self.tasks:
            get_task(t)
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r} (known: {', '.join(SPLITS)})")
        if self.episodes < 1 or self.episodes_per_shard < 1:
            raise ValueError("episodes and episodes_per_shard must be positive")
        if self.split == "train" and self.seed + self.episodes > EVAL_SEED_BASE:
            raise ValueError(f"training seeds must stay below {EVAL_SEED_BASE} (evaluation seeds start there)")

    def shards(self) -> list[tuple[int, list[int]]]:
        """(shard number, episode numbers) for every shard of the recording."""
        n = self.episodes_per_shard
        return [(i, list(range(i * n, min((i + 1) * n, self.episodes)))) for i in range((self.episodes + n - 1) // n)]


def _write_shard(job: RecordJob, shard: int, episodes: list[int], progress=None) -> int:
    env = job.env_factory()
    try:
        with ShardWriter(Path(job.out) / shard_name(shard), job.env_config) as writer:
            for e in episodes:
                task = job.tasks[e % len(job.tasks)]
                ep = run_expert_episode(env, job.seed + e, task, job.split)
                writer.add(**ep)
                if progress is not None:
                    progress.put(1)
    finally:
        env.close()
    return len(episodes)


def _worker(args):
    job, shard, episodes, queue = args
    return _write_shard(job, shard, episodes, queue)


def record(job: RecordJob) -> dict:
    """Write all shards of `job` that are not already on disk; returns a summary (also saved as record.json)."""
    job.validate()
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    remove_partial_shards(out)  # left by an interrupted run; their shards are redone below
    todo = [(s, eps) for s, eps in job.shards() if not shard_done(out / shard_name(s), len(eps))]
    total = sum(len(eps) for _, eps in todo)
    with tqdm(total=total, desc=f"record {out}", unit="ep") as bar:
        if job.workers <= 1 or len(todo) <= 1:
            for s, eps in todo:
                _write_shard(job, s, eps)
                bar.update(len(eps))
        else:
            ctx = mp.get_context("spawn")  # a fresh process per worker: no GL context or HDF5 handle is inherited
            with ctx.Manager() as manager, ctx.Pool(job.workers) as pool:
                queue = manager.Queue()
                result = pool.map_async(_worker, [(job, s, eps, queue) for s, eps in todo])
                done = 0
                while done < total:
                    try:
                        queue.get(timeout=1.0)
                    except queue_lib.Empty:
                        if result.ready():
                            break  # a worker failed: result.get() below raises its error
                        continue
                    done += 1
                    bar.update(1)
                result.get()
    summary = {"out": str(out), "tasks": list(job.tasks), "split": job.split, "episodes": job.episodes,
               "episodes_per_shard": job.episodes_per_shard, "seed": job.seed, "env": job.env_config,
               "shards_written": len(todo), "shards_total": len(job.shards())}
    (out / "record.json").write_text(json.dumps(summary, indent=2))
    return summary


ALL_TASKS = tuple(TASKS)
