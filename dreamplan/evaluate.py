"""Planning evaluation: N episodes per task and split on fixed evaluation seeds, in parallel workers.

Writes into the run directory:
  eval_info.json   config, seeds, one record per episode, and per task/split aggregates
  results.md       the per-task table (success with a 95 % Wilson interval, per-subgoal success, steps, time)
  videos/*.mp4     per episode: imagined frames (top) over real frames (bottom)
  episodes/<task>-<split>-<seed>.json   each episode's record, written (atomically) as soon as it is finished
  job.json         the hash of the config the episodes were run with

An eval is a resumable job: a re-run into the same `out` runs only the episodes that have no file yet (a different
config there is refused), and the summary is rebuilt from all the requested episodes' files after every run. A
launcher runs the missing episodes: `run_local` (here, in this process or a pebble.ProcessPool of `workers`) or
dreamplan.launch_ray's (Ray tasks on a cluster). In worker processes an episode whose worker dies is retried once,
then recorded as `crashed`; one that runs longer than `episode_timeout` seconds is recorded as `timeout`.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing as mp
import multiprocessing.util
import signal
import time
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from dreamplan.episode import play, run_episode, start
from dreamplan.protocols import close_all
from sim.errors import DreamplanError
from sim.metaworld import AVDC_TASKS
from sim.tasks import EVAL_SEED_BASE, SPLITS, TASKS
from sim.workers import ctrl_c_held, die_with_parent, leave_ctrl_c_to_the_parent, stop_pool
from training.atomic import atomic_write
from training.checkpoint import config_differences

KNOWN_TASKS = {"tabletop": tuple(TASKS), "metaworld": AVDC_TASKS}  # per suite family (configs/suite/*.yaml)


def select_tasks(suite: dict, tasks: list[str] | None) -> list[str]:
    """The suite's tasks, or the given ones if all belong to it; a one-line error names what does not."""
    for t in suite["tasks"]:
        if t not in KNOWN_TASKS[suite["family"]]:
            raise DreamplanError(f"suite {suite['name']!r} lists unknown task {t!r}")
    if tasks is None:
        return list(suite["tasks"])
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    unknown = [t for t in tasks if t not in suite["tasks"]]
    if unknown:
        raise DreamplanError(f"task {unknown[0]!r} is not in suite {suite['name']!r} (its tasks: "
                             f"{', '.join(suite['tasks'])}; other suites: suite=tabletop|tabletop-single|"
                             f"tabletop-long|metaworld)")
    return tasks


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (scipy's), at z = 1.96 (the tables' "95 %"); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest, norm

    ci = binomtest(successes, n).proportion_ci(confidence_level=2 * norm.cdf(z) - 1, method="wilson")
    return float(ci.low), float(ci.high)


def comparison_video(episode, frame_stride: int, scale: int = 2) -> np.ndarray:
    """[steps+1, 2H*scale, W*scale, 3]: the imagined frame for each moment on top, the real one below."""
    real = np.stack(episode.frames)
    imagined = np.zeros_like(real)
    for begin, clip in episode.imagined:
        for t in range(begin, len(real)):
            j = min(len(clip) - 1, max(0, math.ceil((t - begin) / frame_stride) - 1))
            imagined[t] = clip[j]
    both = np.concatenate([imagined, real], axis=1)
    return both.repeat(scale, axis=1).repeat(scale, axis=2)


@dataclass
class EvalJob:
    env: dict  # Hydra config of the env
    agent: dict  # Hydra config of the agent (with its planner / video model / inverse dynamics)
    tasks: list[str]
    splits: list[str]
    episodes: int
    seed: int
    out: str
    videos: bool = True
    frame_stride: int = 4
    # failure attribution: component -> the agent config with that one component swapped for its oracle
    swaps: dict[str, dict] = field(default_factory=dict)
    seed_base: int = EVAL_SEED_BASE  # episode i runs seed_base + seed + i (Meta-World/AVDC: seed_base 0)
    known_splits: tuple[str, ...] = SPLITS
    per_task: bool = False  # also a row per task over all its splits
    episode_timeout: float | None = None  # seconds of wall clock per episode in a worker process (None: no limit)

    def episodes_to_run(self) -> list[tuple[str, str, int]]:
        return [(task, split, self.seed_base + self.seed + i) for task in self.tasks for split in self.splits
                for i in range(self.episodes)]


worker_state: dict = {}  # this process's job, env and agents (filled by a worker's initializer, emptied when it closes)


def init_worker(job: EvalJob, defer_errors: bool = False) -> None:
    """Build this process's env and agents. In a pool worker (`defer_errors`) a failure is kept and raised by each
    episode instead: a pool respawns a worker whose initializer fails, forever, and the eval would hang."""
    import torch
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    if defer_errors:  # a pool worker: killed with the eval's main process, not left running episodes (sim.workers)
        leave_ctrl_c_to_the_parent()
        die_with_parent()
    torch.set_num_threads(1)  # one core per worker process
    try:
        agents = {"main": instantiate(job.agent)} | {k: instantiate(v) for k, v in job.swaps.items()}
        worker_state.update(job=job, env=instantiate(job.env), agents=agents)
    except Exception as e:
        if not defer_errors:
            raise
        while isinstance(e, InstantiationException) and e.__cause__ is not None:
            e = e.__cause__  # what the constructor raised: Hydra's wrapper loses its cause on the way to the main process
        worker_state.update(job=job, init_error=e)
    # a pool worker that exits normally (pool.close + join) runs this; the main process at interpreter exit
    multiprocessing.util.Finalize(None, close_worker, exitpriority=10)


def close_worker() -> None:
    close_all(*worker_state.get("agents", {}).values(), worker_state.get("env"))
    worker_state.clear()


def _attribute(spec: tuple[str, str, int]) -> dict[str, bool]:
    """Re-run a failed episode once per swap: which oracle, put in place of its component, fixes it?"""
    task, split, seed = spec
    env, agents = worker_state["env"], worker_state["agents"]
    fixed = {}
    for component in worker_state["job"].swaps:
        try:
            fixed[component] = play(env, agents[component], seed, {"task": task, "split": split})[0].success
        except Exception:  # noqa: BLE001 -- a crash is a failure here too
            fixed[component] = False
    return fixed


def run_one(spec: tuple[str, str, int], video_dir: Path | None = None) -> dict:
    """Play one episode with this process's env and agent; its video goes to `video_dir` (default <out>/videos: a
    Ray worker, which may be on another machine, writes it into a local folder and returns it to the driver)."""
    import imageio.v3 as iio

    task, split, seed = spec
    if "init_error" in worker_state:
        raise worker_state["init_error"]
    job, env, agent = worker_state["job"], worker_state["env"], worker_state["agents"]["main"]
    obs, info = start(env, seed, {"task": task, "split": split})
    scene = env.unwrapped.scene() if hasattr(env.unwrapped, "scene") else None  # replay: dreamplan run scene=
    t0 = time.perf_counter()
    try:
        episode = run_episode(env, obs, agent, info["instruction"])
        error = None
    except Exception as e:  # noqa: BLE001 -- a crash is a failed episode, recorded with its reason
        episode, error = None, f"{type(e).__name__}: {e}"
    wall = time.perf_counter() - t0
    reached = env.unwrapped.subgoal_progress
    record = {
        "task": task, "split": split, "seed": seed, "instruction": info["instruction"],
        "reference_subgoals": info["subgoals"],
        "success": bool(episode.success) if episode else False,
        "subgoal_success": float(np.mean(reached)) if len(reached) else 0.0,
        "steps": episode.steps if episode else 0,
        "wall_s": wall,
        "timings": dict(episode.timings) if episode else {},
        "subgoals": episode.subgoals if episode else [],
        "replans": episode.replans if episode else 0,
        "decisions": len(episode.imagined) if episode else 0,  # imagine -> score -> act cycles
        "failure": (episode.failure if episode else error),
        "final_state": [round(float(v), 5) for v in env.unwrapped.state_vector()],  # pusher xy, then per block
    }
    if scene is not None:
        record["scene"] = scene
    if job.videos and episode is not None:
        name = f"{task}-{split}-{seed}.mp4"
        # encoded in memory: ffmpeg writing a file itself reports a full disk on its own stderr, or not at all
        data = iio.imwrite("<bytes>", comparison_video(episode, job.frame_stride), extension=".mp4", fps=20,
                           codec="libx264", macro_block_size=1)
        atomic_write((video_dir or Path(job.out) / "videos") / name, data)
        record["video"] = f"videos/{name}"
    if job.swaps and not record["success"]:
        record["fixed_by"] = _attribute(spec)
    return record


DECISION_COMPONENTS = ("imagine", "invdyn", "score")


def aggregate(records: list[dict], per_task: bool = False) -> dict:
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(f"{r['task']}/{r['split']}", []).append(r)
    if per_task:
        for r in records:
            groups.setdefault(r["task"], []).append(r)
    groups["all"] = records
    out = {}
    for key, rs in groups.items():
        n, s = len(rs), sum(r["success"] for r in rs)
        lo, hi = wilson_interval(s, n)
        components = sorted({c for r in rs for c in r["timings"]})
        out[key] = {
            "episodes": n, "successes": s, "success_rate": s / n, "ci95": [lo, hi],
            "subgoal_success": float(np.mean([r["subgoal_success"] for r in rs])),
            "mean_steps": float(np.mean([r["steps"] for r in rs])),
            "mean_wall_s": float(np.mean([r["wall_s"] for r in rs])),
            "seconds_per_episode": {c: float(np.mean([r["timings"].get(c, 0.0) for r in rs])) for c in components},
        }
        decisions = sum(r["decisions"] for r in rs)
        if decisions:  # what one receding-horizon decision costs: imagine K clips, read actions, score them
            spent = sum(r["timings"].get(c, 0.0) for r in rs for c in DECISION_COMPONENTS)
            out[key]["seconds_per_decision"] = spent / decisions
        failed = [r for r in rs if "fixed_by" in r]
        if failed:
            out[key]["failures_fixed_by_oracle"] = {c: sum(r["fixed_by"][c] for r in failed) for c in failed[0]["fixed_by"]}
            out[key]["failures_fixed_by_none"] = sum(not any(r["fixed_by"].values()) for r in failed)
    return out


def results_table(summary: dict) -> str:
    lines = ["| task / split | success | 95 % CI | subgoals reached | steps | s/episode | time by component |",
             "|---|---|---|---|---|---|---|"]
    for key, a in summary.items():
        parts = ", ".join(f"{c} {v:.2f}" for c, v in a["seconds_per_episode"].items())
        if "seconds_per_decision" in a:
            parts += f"; {a['seconds_per_decision']:.2f} per decision"
        lines.append(f"| {'**all**' if key == 'all' else key} | {a['successes']}/{a['episodes']} ({a['success_rate']:.0%}) "
                     f"| {a['ci95'][0]:.0%}–{a['ci95'][1]:.0%} | {a['subgoal_success']:.0%} | {a['mean_steps']:.0f} "
                     f"| {a['mean_wall_s']:.1f} | {parts} |")
    attributed = {k: a for k, a in summary.items() if "failures_fixed_by_oracle" in a}
    if attributed:
        comps = list(next(iter(attributed.values()))["failures_fixed_by_oracle"])
        lines += ["", "Failure attribution: failed episodes re-run with one component swapped for its oracle.", "",
                  "| task / split | failures | " + " | ".join(f"fixed by oracle {c}" for c in comps) + " | fixed by none |",
                  "|---|---|" + "---|" * (len(comps) + 1)]
        for key, a in attributed.items():
            n = a["episodes"] - a["successes"]
            lines.append(f"| {key} | {n} | " + " | ".join(str(a["failures_fixed_by_oracle"][c]) for c in comps)
                         + f" | {a['failures_fixed_by_none']} |")
    return "\n".join(lines) + "\n"


# Keys of the eval config that do not change any episode's outcome, left out of the job's hash so a re-run with
# other values resumes: how many processes run it and on what, whether videos are written, where to, and the
# summary's rows.
# `episodes` too: episode i's seed does not depend on how many there are, so a larger `episodes` extends a run (and a
# smaller one summarizes its first episodes). Everything else (agent, env, suite, tasks, splits, seeds, attribution,
# episode_timeout) is hashed.
UNHASHED_KEYS = ("workers", "launcher", "ray", "videos", "out", "episodes", "per_task")


def config_hash(config: dict) -> str:
    kept = {k: v for k, v in config.items() if k not in UNHASHED_KEYS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def episode_path(out: Path, spec: tuple[str, str, int]) -> Path:
    task, split, seed = spec
    return out / "episodes" / f"{task}-{split}-{seed}.json"


def _load_episode(out: Path, spec: tuple[str, str, int], digest: str) -> dict | None:
    """The finished record of `spec` under `out` when it was run with this config, else None."""
    try:
        record = json.loads(episode_path(out, spec).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return record if record.get("config_hash") == digest else None


def _save_episode(out: Path, spec: tuple[str, str, int], record: dict, digest: str) -> None:
    atomic_write(episode_path(out, spec), json.dumps(record | {"config_hash": digest}, indent=2))


def _check_job(out: Path, config: dict, digest: str) -> None:
    """Write `out`/job.json, or refuse (one line) when it holds another config's episodes."""
    path = out / "job.json"
    if path.exists():
        held = json.loads(path.read_text())
        if held.get("config_hash") != digest:
            ours = json.loads(json.dumps({k: v for k, v in config.items() if k not in UNHASHED_KEYS}, default=str))
            differ = [d.split(":")[0] for d in config_differences(held.get("config", {}), ours)]
            what = ", ".join(differ[:6]) if differ else f"config hash {held.get('config_hash')}"
            raise DreamplanError(f"{out} holds an eval of a different config (differs in {what}): re-run with its "
                                 "config to resume, or give another out=")
        return
    atomic_write(path, json.dumps({"config_hash": digest, "unhashed_keys": list(UNHASHED_KEYS),
                                   "config": {k: v for k, v in config.items() if k not in UNHASHED_KEYS}},
                                  indent=2, default=str))


def lost_record(spec: tuple[str, str, int], outcome: str, failure: str, wall: float, attempts: int) -> dict:
    """The record of an episode whose worker died or ran out of time: the fields aggregate() reads, a failure."""
    task, split, seed = spec
    return {"task": task, "split": split, "seed": seed, "instruction": "", "reference_subgoals": [],
            "success": False, "subgoal_success": 0.0, "steps": 0, "wall_s": wall, "timings": {}, "subgoals": [],
            "replans": 0, "decisions": 0, "failure": failure, "final_state": [], "outcome": outcome,
            "attempts": attempts}


def _died(e: BaseException) -> str:
    code = getattr(e, "exitcode", None)
    if isinstance(code, int) and code < 0:
        try:
            return f"worker died: killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"worker died: {e} (exit code {code})"


def _run_pool(job: EvalJob, todo: list[tuple[str, str, int]], workers: int, save, progress) -> None:
    """Run `todo` in `workers` spawned processes; save each record as it comes. A dead worker's episode is retried
    once, then saved as crashed; one past `job.episode_timeout` is saved as timeout. Never waits on a dead worker."""
    from pebble import ProcessExpired, ProcessPool

    pool = ProcessPool(max_workers=workers, initializer=init_worker, initargs=(job, True),
                       context=mp.get_context("spawn"))
    try:
        with ctrl_c_held():  # the first schedule starts the pool's threads and workers
            pending = {pool.schedule(run_one, args=(spec,), timeout=job.episode_timeout): (spec, 1) for spec in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                spec, attempt = pending.pop(future)
                try:
                    record = future.result()
                except ProcessExpired as e:
                    if attempt < 2:  # the worker died (SIGKILL, OOM): once more, in a fresh worker
                        pending[pool.schedule(run_one, args=(spec,), timeout=job.episode_timeout)] = (spec, attempt + 1)
                        continue
                    record = lost_record(spec, "crashed", _died(e), 0.0, attempt)
                except FutureTimeout:
                    record = lost_record(spec, "timeout", f"timed out after {job.episode_timeout:g} s",
                                          float(job.episode_timeout), attempt)
                save(spec, record)
                progress.update()
    finally:  # done, Ctrl-C or an error: episodes saved so far are kept; a re-run resumes
        stop_pool(pool)


def _run_here(job: EvalJob, todo: list[tuple[str, str, int]], workers: int, save, progress) -> None:
    """Run `todo` one after the other in this process (no timeout: nothing could stop an episode from outside)."""
    init_worker(job)
    try:
        for spec in todo:
            save(spec, run_one(spec))
            progress.update()
    finally:
        close_worker()


def run_local(job: EvalJob, todo: list[tuple[str, str, int]], workers: int, save, progress) -> None:
    """The default launcher: in this process when `workers` is 1, else in a pool of `workers` processes."""
    (_run_here if workers <= 1 else _run_pool)(job, todo, workers, save, progress)


# A launcher runs an eval's missing episodes and calls save(spec, record) and progress.update() as each finishes.
Launcher = Callable[[EvalJob, list, int, Callable[[tuple, dict], None], tqdm], None]
LAUNCHERS = ("local", "ray")


def launcher(name: str, ray_address: str | None = None) -> Launcher:
    """The launcher called `name` (the eval config's `launcher`); Ray is imported only for launcher=ray."""
    if name == "local":
        return run_local
    if name == "ray":
        from dreamplan.launch_ray import ray_launcher

        return ray_launcher(ray_address)
    raise DreamplanError(f"unknown launcher {name!r} (known: {', '.join(LAUNCHERS)})")


def evaluate(job: EvalJob, workers: int = 1, config: dict | None = None, launch: Launcher = run_local) -> dict:
    for split in job.splits:
        if split not in job.known_splits:
            raise DreamplanError(f"unknown split {split!r} (known: {', '.join(job.known_splits)})")
    if job.episodes < 1:
        raise DreamplanError(f"episodes must be at least 1, got {job.episodes}")
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    hashed = config if config else asdict(job)
    digest = config_hash(hashed)
    _check_job(out, hashed, digest)
    specs = job.episodes_to_run()
    todo = [spec for spec in specs if _load_episode(out, spec, digest) is None]

    def save(spec, record):
        _save_episode(out, spec, record, digest)

    with tqdm(total=len(specs), initial=len(specs) - len(todo), desc="eval", unit="ep") as progress:
        if todo:
            launch(job, todo, workers, save, progress)
    records = []
    for spec in specs:
        record = _load_episode(out, spec, digest)
        if record is None:
            raise DreamplanError(f"episode {episode_path(out, spec)} is missing after the run")
        record.pop("config_hash")
        records.append(record)
    summary = aggregate(records, job.per_task)
    info = {"config": config or {}, "config_hash": digest, "tasks": job.tasks, "splits": job.splits,
            "episodes_per_task": job.episodes, "seeds": sorted({r["seed"] for r in records}), "summary": summary,
            "episodes": records}
    atomic_write(out / "eval_info.json", json.dumps(info, indent=2))
    atomic_write(out / "results.md", results_table(summary))
    return info
