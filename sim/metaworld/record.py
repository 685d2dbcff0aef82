"""Record Meta-World scripted-policy demonstrations into our HDF5 shards (sim/dataset.py), AVDC-sized by default.

One shard per task (`shard-00000.h5` is the first task of the job): `episodes` successful demos per camera, each
its own seed, so 5 demos x 3 cameras gives 15 scenes per task. Seeds count up from `seed` (default 1000, clear of
the evaluation seeds 0-24) through the shard's cameras in turn; a seed whose demo fails is skipped (and listed in
record.json), the next one is tried, at most `max_attempts` per camera. Shards are written to a temp file and
renamed; re-running the same job keeps the complete shards and redoes the rest, like the tabletop recording (and,
like it, refuses a folder whose record.json asks for another recording).
Per episode: frames uint8 [T+1, S, S, 3], actions float32 [T, 4] (the clipped action the env executed: xyz
displacement + gripper), states float32 [T+1, 39], subgoal_index int16 [T] (zeros: one subgoal, the task text),
attrs seed, task, split (= camera), camera, instruction, success, subgoals, initial ({task, camera, seed}:
`reset(seed=..., options=...)` rebuilds the scene).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from sim.dataset import ShardWriter, check_recording, remove_partial_shards, shard_done, shard_name, write_atomically
from sim.errors import DreamplanError
from sim.metaworld import AVDC_TASKS, CAMERAS, EVAL_SEEDS, canonical_task
from sim.metaworld.expert import MetaWorldExpert


def run_scripted_episode(env, seed: int, task: str, camera: str) -> dict:
    """Reset `env` and let Meta-World's scripted policy act until success or the step limit."""
    base = env.unwrapped
    obs, info = env.reset(seed=seed, options={"task": task, "camera": camera})
    expert = MetaWorldExpert(task)
    frames, states, actions = [obs["image"]], [obs["state"]], []
    done = False
    while not done:
        action = expert.act_in(env)
        obs, _, terminated, truncated, info = env.step(action)
        actions.append(action)
        frames.append(obs["image"])
        states.append(obs["state"])
        done = terminated or truncated
    return {
        "frames": np.stack(frames),
        "states": np.stack(states),
        "actions": np.stack(actions).astype(np.float32),
        "subgoal_index": np.zeros(len(actions), np.int16),
        "seed": seed,
        "task": task,
        "split": camera,
        "camera": camera,
        "instruction": info["instruction"],
        "success": bool(info["success"]),
        "subgoals": [{"text": info["instruction"], "target": None, "reached": bool(info["success"])}],
        "initial": base.instance.to_dict(),
    }


@dataclass
class MetaWorldRecordJob:
    out: str
    tasks: Sequence[str] = AVDC_TASKS
    cameras: Sequence[str] = CAMERAS
    episodes: int = 5  # successful demos per task and camera
    seed: int = 1000
    max_attempts: int | None = None  # seeds tried per camera before giving up; None: 4 x episodes
    env_factory: Callable = field(default=None, repr=False)  # () -> MetaWorldEnv
    env_config: dict = field(default_factory=dict)

    def validate(self) -> None:
        if self.max_attempts is None and isinstance(self.episodes, int):
            self.max_attempts = 4 * self.episodes
        for name in ("episodes", "seed", "max_attempts"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        if self.episodes < 1 or self.max_attempts < self.episodes:
            raise ValueError(f"episodes must be positive and at most max_attempts={self.max_attempts}")
        if not self.tasks or not self.cameras:
            raise ValueError("give at least one task and one camera")
        self.tasks = [canonical_task(t) for t in self.tasks]
        if self.seed <= max(EVAL_SEEDS):
            raise DreamplanError(f"recording seeds start at seed={self.seed}, inside the evaluation seeds "
                                 f"{min(EVAL_SEEDS)}-{max(EVAL_SEEDS)}; use seed>={max(EVAL_SEEDS) + 1}")


def _task_episodes(env, job: MetaWorldRecordJob, task: str, failures: list):
    """The successful demos of one shard, camera by camera, seeds counting up from job.seed."""
    seed = job.seed
    for camera in job.cameras:
        done = 0
        for _ in range(job.max_attempts):
            ep = run_scripted_episode(env, seed, task, camera)
            seed += 1
            if ep["success"]:
                done += 1
                yield ep
                if done == job.episodes:
                    break
            else:
                failures.append({"task": task, "camera": camera, "seed": ep["seed"]})
        if done < job.episodes:
            raise DreamplanError(f"the scripted policy for {task!r} succeeded only {done} times in {job.max_attempts} "
                                 f"seeds from {camera!r}; raise max_attempts")


def record_metaworld(job: MetaWorldRecordJob) -> dict:
    """Write every shard of `job` not already on disk; returns a summary (also saved as record.json)."""
    job.validate()
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    request = {"benchmark": "metaworld-v3", "tasks": list(job.tasks), "cameras": list(job.cameras),
               "episodes_per_camera": job.episodes, "seed": job.seed, "env": job.env_config}
    check_recording(out, request)
    remove_partial_shards(out)  # left by an interrupted run; their shards are redone below
    per_shard = job.episodes * len(job.cameras)
    todo = [i for i in range(len(job.tasks)) if not shard_done(out / shard_name(i), per_shard)]
    failures = []
    env = job.env_factory() if todo else None
    try:
        with tqdm(total=len(todo) * per_shard, desc=f"record {out}", unit="ep") as bar:
            for i in todo:
                with ShardWriter(out / shard_name(i), job.env_config) as writer:
                    for ep in _task_episodes(env, job, job.tasks[i], failures):
                        writer.add(**ep)
                        bar.update(1)
    finally:
        if env is not None:
            env.close()
    summary = {"out": str(out), **request, "shards": {shard_name(i): job.tasks[i] for i in range(len(job.tasks))},
               "shards_written": len(todo), "shards_total": len(job.tasks), "failed_seeds_skipped_now": failures}
    write_atomically(out / "record.json", json.dumps(summary, indent=2).encode())
    return summary
