"""dreamplan eval launcher=ray: an eval's episodes as Ray tasks, on a local Ray instance or an existing cluster.

The driver (this process) keeps the job: it writes each episode's record (and video) under <out> as its task returns,
so resume, `crashed` and `timeout` work as with the local launcher. A task whose worker dies is run once more, then
recorded as `crashed`; one that runs longer than `episode_timeout` seconds is cancelled (its worker killed) and
recorded as `timeout`.

Which cluster: `ray.address=` (e.g. `auto`, `ray://host:10001`), else RAY_ADDRESS, else a new local Ray instance with
`workers` CPUs. Every node needs dreamplan installed, and the checkpoints its agent loads.
"""

from __future__ import annotations

import functools
import os
import socket
import tempfile
import time
from collections import deque
from pathlib import Path

from dreamplan.evaluate import EvalJob, Launcher, close_worker, init_worker, lost_record, run_one, worker_state
from sim.errors import DreamplanError
from training.atomic import atomic_write

INSTALL_HINT = "launcher=ray needs the ray extra: pip install 'dreamplan[ray]'"


def _import_ray():
    try:
        import ray
    except ImportError:
        raise DreamplanError(INSTALL_HINT) from None
    return ray


def ray_launcher(address: str | None = None) -> Launcher:
    """The Ray launcher, for `address` (None: RAY_ADDRESS, or a local instance); says at once if ray is missing."""
    _import_ray()
    return functools.partial(run_on_ray, address=address)


def _check_reachable(address: str) -> None:
    """A `host:port` (or ray://host:port) nobody answers at is one line now: Ray itself retries for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and the like: Ray finds the cluster itself, and says so at once when there is none
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as e:
        raise DreamplanError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from None


def _connect(ray, address: str | None, workers: int) -> None:
    """Join the cluster at `address` or RAY_ADDRESS, or start a local instance of `workers` CPUs. One that is already
    up in this process is used as it is: a sweep's next eval, or a test's cluster."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    try:
        if address:
            _check_reachable(address)
            ray.init(address=address)
        else:
            # left running until this process exits (Ray stops it then): starting one takes seconds per eval
            ray.init(num_cpus=max(1, workers), include_dashboard=False)
    except ConnectionError as e:
        raise DreamplanError(f"cannot reach the Ray cluster at {address}: {str(e).strip().splitlines()[0]}") from None


def _ready(job: EvalJob) -> None:
    """This Ray worker process holds the job's env and agents (built on its first task, kept for the next ones, as a
    pool worker does)."""
    from hydra.errors import InstantiationException

    if worker_state.get("job") != job:
        close_worker()
        try:
            init_worker(job)  # one torch thread per task (Ray gives each task one CPU)
        except InstantiationException as e:
            while isinstance(e, InstantiationException) and e.__cause__ is not None:
                e = e.__cause__  # what the constructor raised: Hydra's wrapper reaches the driver without its cause
            raise e from None


def _episode(job: EvalJob, spec: tuple[str, str, int]) -> tuple[dict, bytes | None]:
    """One episode in a Ray worker process, with its video's bytes (the worker may be on another machine)."""
    _ready(job)
    with tempfile.TemporaryDirectory(prefix="dreamplan-video-") as tmp:
        record = run_one(spec, video_dir=Path(tmp))
        video = (Path(tmp) / Path(record["video"]).name).read_bytes() if "video" in record else None
    return record, video


def _get(ray, refs: list):
    """ray.get, with what a task raised (e.g. a missing checkpoint) re-raised as itself, as the local launcher does."""
    from ray.exceptions import RayTaskError

    try:
        return ray.get(refs)
    except RayTaskError as e:
        if e.cause is None:
            raise
        raise e.cause from e


def _worker_died(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"worker died: {type(e).__name__}: {lines[0] if lines else 'no reason given'}"


def run_on_ray(job: EvalJob, todo: list[tuple[str, str, int]], workers: int, save, progress,
               address: str | None = None) -> None:
    """Run `todo` as Ray tasks, one CPU each, and save each record as it comes (the same contract as the local
    launcher). No more tasks are in flight than the cluster has CPUs, so an episode's clock starts about when it runs."""
    ray = _import_ray()
    from ray.exceptions import NodeDiedError, OutOfMemoryError, RayTaskError, WorkerCrashedError

    _connect(ray, address, workers)
    # max_retries=0: a dead worker's episode is retried here, so its record can count the attempts
    task = ray.remote(_episode).options(num_cpus=1, max_retries=0)
    job_ref = ray.put(job)
    capacity = max(1, int(ray.cluster_resources().get("CPU", 1)))
    # workers build the env and agents before the first episode is timed: its clock starts at submission
    _get(ray, [ray.remote(_ready).options(num_cpus=1, max_retries=0).remote(job_ref)
               for _ in range(min(capacity, len(todo)))])
    queue = deque((spec, 1) for spec in todo)
    running: dict = {}  # ObjectRef -> (spec, attempt, submitted at)
    limit = job.episode_timeout

    def finish(spec, record, video=None):
        if video is not None:
            atomic_write(Path(job.out) / record["video"], video)
        save(spec, record)
        progress.update()

    try:
        while queue or running:
            while queue and len(running) < capacity:
                spec, attempt = queue.popleft()
                running[task.remote(job_ref, spec)] = (spec, attempt, time.monotonic())
            wait_s = None if limit is None else max(0.0, min(t for _, _, t in running.values()) + limit - time.monotonic())
            done, _ = ray.wait(list(running), num_returns=1, timeout=wait_s)
            for ref in done:
                spec, attempt, _ = running.pop(ref)
                try:
                    record, video = ray.get(ref)
                except (WorkerCrashedError, OutOfMemoryError, NodeDiedError) as e:
                    if attempt < 2:  # the worker died (SIGKILL, OOM, its node lost): once more, in another worker
                        queue.appendleft((spec, attempt + 1))
                        continue
                    finish(spec, lost_record(spec, "crashed", _worker_died(e), 0.0, attempt))
                    continue
                except RayTaskError as e:  # what the episode raised, e.g. a missing checkpoint: as the local launcher
                    if e.cause is None:
                        raise
                    raise e.cause from e
                finish(spec, record, video)
            if limit is not None:
                now = time.monotonic()
                for ref, (spec, attempt, submitted) in list(running.items()):
                    if now - submitted >= limit:
                        ray.cancel(ref, force=True)  # kills its worker: an episode cannot be stopped from outside
                        del running[ref]
                        finish(spec, lost_record(spec, "timeout", f"timed out after {limit:g} s", float(limit), attempt))
    except BaseException:
        for ref in running:  # Ctrl-C or an error: episodes saved so far are kept; a re-run resumes
            ray.cancel(ref, force=True)
        raise
