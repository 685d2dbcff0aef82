"""Record scripted-expert episodes into HDF5 shards (resumable: finished shards are kept and skipped; record.json
must ask for the same recording)."""

from __future__ import annotations

import json
import multiprocessing as mp
import signal
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from sim.dataset import (ShardWriter, check_recording, remove_partial_shards, shard_done, shard_name,
                         write_atomically)
from sim.errors import DreamplanError
from sim.expert import ScriptedExpert
from sim.tasks import EVAL_SEED_BASE, SPLITS, TASKS, get_task
from sim.workers import ctrl_c_held, die_with_parent, leave_ctrl_c_to_the_parent, stop_pool


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
        for name, minimum in (("episodes", 1), ("episodes_per_shard", 1), ("seed", 0), ("workers", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        for t in self.tasks:
            get_task(t)
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r} (known: {', '.join(SPLITS)})")
        if self.split == "train" and self.seed + self.episodes > EVAL_SEED_BASE:
            raise ValueError(f"training seeds must stay below {EVAL_SEED_BASE} (evaluation seeds start there)")

    def shards(self) -> list[tuple[int, list[int]]]:
        """(shard number, episode numbers) for every shard of the recording."""
        n = self.episodes_per_shard
        return [(i, list(range(i * n, min((i + 1) * n, self.episodes)))) for i in range((self.episodes + n - 1) // n)]


def _write_shard(job: RecordJob, shard: int, episodes: list[int], progress=None) -> int:
    """Record one shard; `progress[shard]` (shared with the main process, when given) counts its episodes so far."""
    env = job.env_factory()
    try:
        with ShardWriter(Path(job.out) / shard_name(shard), job.env_config) as writer:
            for e in episodes:
                task = job.tasks[e % len(job.tasks)]
                ep = run_expert_episode(env, job.seed + e, task, job.split)
                writer.add(**ep)
                if progress is not None:
                    progress[shard] = writer.count
    finally:
        env.close()
    return len(episodes)


worker_progress = None  # a pool worker's view of the shared per-shard episode counts (set by _init_worker)


def _init_worker(progress) -> None:
    global worker_progress
    leave_ctrl_c_to_the_parent()
    die_with_parent()  # no orphan keeps writing shards into `out` after the main process is killed
    worker_progress = progress


def _write_shard_in_worker(job: RecordJob, shard: int, episodes: list[int]) -> int:
    worker_progress[shard] = 0  # a retried shard starts over
    return _write_shard(job, shard, episodes, worker_progress)


def _died(e) -> str:
    try:
        return f"killed by {signal.Signals(-e.exitcode).name}"
    except (TypeError, ValueError):
        return f"exit code {e.exitcode}"


def _record_in_workers(job: RecordJob, todo: list[tuple[int, list[int]]], bar: tqdm) -> None:
    """Write the shards of `todo` in `job.workers` processes (pebble supervises them: a worker that dies is noticed,
    not awaited). A dead worker's shard is redone once in a fresh worker; a second death stops the recording. The
    first error (a full disk, say) stops every worker at once."""
    from pebble import ProcessExpired, ProcessPool

    ctx = mp.get_context("spawn")  # a fresh process per worker: no GL context or HDF5 handle is inherited
    progress = ctx.RawArray("i", len(job.shards()))  # episodes written per shard; each shard has one writer
    pool = ProcessPool(max_workers=min(job.workers, len(todo)), initializer=_init_worker, initargs=(progress,),
                       context=ctx)
    try:
        with ctrl_c_held():  # the first schedule starts the pool's threads and workers
            pending = {pool.schedule(_write_shard_in_worker, args=(job, s, eps)): (s, eps, 1) for s, eps in todo}
        while pending:
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            written = sum(progress[s] for s, _ in todo)
            if written != bar.n:
                bar.update(written - bar.n)
            for future in done:
                s, eps, attempt = pending.pop(future)
                try:
                    future.result()
                except ProcessExpired as e:
                    if attempt == 2:
                        raise DreamplanError(f"the worker recording {Path(job.out) / shard_name(s)} died twice "
                                             f"({_died(e)}); the complete shards are kept") from None
                    pending[pool.schedule(_write_shard_in_worker, args=(job, s, eps))] = (s, eps, attempt + 1)
    except BaseException:
        stop_pool(pool)  # Ctrl-C, a full disk, a second death: stop writing now; the complete shards are kept
        remove_partial_shards(job.out)  # of a worker stopped halfway through writing its shard
        raise
    stop_pool(pool)


def record(job: RecordJob) -> dict:
    """Write all shards of `job` that are not already on disk; returns a summary (also saved as record.json)."""
    job.validate()
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    request = {"tasks": list(job.tasks), "split": job.split, "episodes": job.episodes,
               "episodes_per_shard": job.episodes_per_shard, "seed": job.seed, "env": job.env_config}
    check_recording(out, request)
    remove_partial_shards(out)  # left by an interrupted run; their shards are redone below
    todo = [(s, eps) for s, eps in job.shards() if not shard_done(out / shard_name(s), len(eps))]
    with tqdm(total=sum(len(eps) for _, eps in todo), desc=f"record {out}", unit="ep") as bar:
        if job.workers <= 1 or len(todo) <= 1:
            for s, eps in todo:
                _write_shard(job, s, eps)
                bar.update(len(eps))
        else:
            _record_in_workers(job, todo, bar)
    summary = {"out": str(out), **request, "shards_written": len(todo), "shards_total": len(job.shards())}
    write_atomically(out / "record.json", json.dumps(summary, indent=2).encode())
    return summary


ALL_TASKS = tuple(TASKS)
