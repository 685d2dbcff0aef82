"""Fault injection: the real `dreamplan` commands, killed, interrupted, starved of disk and fed bad input.

    python benchmarks/faults.py [--only NAME ...] [--out benchmarks/results/faults.json]   (--only: update those rows)

Each case runs `python -m dreamplan.cli ...` in processes of its own (agent=expert and tiny recordings: seconds
each), injects one fault, and checks what a user would see: the exit code, the one `dreamplan:` line on stderr (no
traceback), no hang (every command runs under a timeout), no orphan worker left running, and nothing finished lost:
an episode or shard that was complete before the fault is still there, byte for byte, and a re-run completes the
job. Prints the table (case, expected, observed, hang, data lost) and writes the JSON. tests/reliability/ runs the
same cases (all but the 200-episode one) and fails on any that does not hold.

A full disk and a read-only folder are real where the machine allows it: the command runs in a mount namespace
(`unshare -rm`, no root needed) on a small tmpfs, read-only for the latter. Elsewhere a full disk is a file-size
limit (RLIMIT_FSIZE: EFBIG) and a read-only folder one without write permission (as root, which ignores that: a
path under a regular file).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import psutil

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 180  # seconds a command may take before it counts as hung (and is killed)
EVAL = ["eval", "agent=expert", "tasks=[push_to_center]", "videos=false", "attribute=false"]
RECORD = ["record", "tasks=[push_to_corner]", "env.image_size=24"]
INSTRUCTION = "group the blocks by color"  # one the expert carries out


# ---------------------------------------------------------------------------------------------------- processes
@dataclass
class Finished:
    code: int | None  # None: still running at the timeout (hung), then killed
    stdout: str
    stderr: str


class Command(subprocess.Popen):
    """A process whose output goes to files, not pipes: a pipe nobody reads while a fault is being prepared fills
    up and stalls the command."""

    def __init__(self, args: list[str], **kw):
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        super().__init__(args, stdout=self.out, stderr=self.err, **kw)

    def output(self) -> tuple[str, str]:
        return tuple(f.seek(0) or f.read().decode(errors="replace") for f in (self.out, self.err))


def _as_from_a_terminal(then: Callable[[], None] | None) -> Callable[[], None]:
    """Ctrl-C as a terminal user has it: a job started in the background (`cmd &`, as CI scripts may run the tests)
    inherits SIGINT ignored, and a Python started that way never raises KeyboardInterrupt."""
    def setup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if then is not None:
            then()
    return setup


def start(work: Path, args: list[str], wrap: Callable[[list[str]], list[str]] = lambda c: c,
          env: dict | None = None, preexec_fn=None) -> Command:
    """`dreamplan ARGS` from `work`, in a session of its own (a timeout or Ctrl-C reaches all its processes)."""
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])), **(env or {}))
    return Command(wrap([sys.executable, "-m", "dreamplan.cli", *args]), cwd=work, env=env, start_new_session=True,
                   preexec_fn=_as_from_a_terminal(preexec_fn))


def finish(proc: Command, timeout: float = TIMEOUT) -> Finished:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        code = None
    return Finished(code, *proc.output())


def dreamplan(work: Path, args: list[str], **kw) -> Finished:
    return finish(start(work, args, **kw))


def wait_until(proc: Command, ready: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    """Whether `ready()` came true while `proc` still ran (the moment to inject a fault)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if ready():
            return True
        time.sleep(0.05)
    return False


def workers(proc: Command) -> list[psutil.Process]:
    """The pool's worker processes (spawned; the multiprocessing resource tracker is not one)."""
    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "multiprocessing" in line and "resource_tracker" not in line:
            found.append(child)
    return found


def still_running(processes: list[psutil.Process]) -> int:
    """How many of `processes` still run (a zombie has stopped: nobody may reap orphans in a container)."""
    running = 0
    for process in processes:
        try:
            running += process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            pass
    return running


# ------------------------------------------------------------------------------------------------ what is on disk
def _digest(path: Path) -> tuple[int, str]:
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def episode_files(out: Path) -> dict[str, tuple[int, str]]:
    """Finished episodes by name (not the hidden temporary files of those being written)."""
    return {p.name: _digest(p) for p in sorted((out / "episodes").glob("[!.]*.json"))}


def shard_files(out: Path) -> dict[str, tuple[int, str]]:
    return {p.name: _digest(p) for p in sorted(out.glob("shard-*.h5"))}


def unreadable_shards(out: Path) -> list[str]:
    """Files under a shard's final name that are not a complete shard (a half shard)."""
    from sim.dataset import DatasetError, open_shard

    bad = []
    for path in sorted(out.glob("shard-*.h5")):
        try:
            open_shard(path).close()
        except DatasetError:
            bad.append(path.name)
    return bad


def unreadable_episodes(out: Path) -> list[str]:
    bad = []
    for path in sorted((out / "episodes").glob("[!.]*.json")):
        try:
            json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            bad.append(path.name)
    return bad


def temp_files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob(".*tmp*"))


def changed(before: dict, after: dict) -> list[str]:
    """Files of `before` that are gone or different in `after`: finished work lost (or redone)."""
    return [name for name in before if after.get(name) != before[name]]


def eval_episodes(out: Path) -> list[dict]:
    path = out / "eval_info.json"
    return json.loads(path.read_text())["episodes"] if path.is_file() else []


# ---------------------------------------------------------------------------------------------- small file systems
@functools.cache
def namespaces() -> bool:
    """Whether this machine lets an unprivileged process mount a tmpfs in a mount namespace of its own."""
    with tempfile.TemporaryDirectory() as d:
        try:
            probe = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=16k tmpfs "$0"', d],
                                   capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return probe.returncode == 0


def disk_full_message() -> str:
    if namespaces():
        return "no space left on device writing"
    return r"file too large for the file-size limit \(ulimit -f\) writing"


def read_only_message() -> str:
    if namespaces():
        return "read-only file system: cannot write"
    return "(not a directory|file exists):" if os.geteuid() == 0 else "permission denied:"


@dataclass
class SmallDisk:
    """Runs commands with `work/mount` on a `size_kb` file system, full or read-only; after each command its files
    are copied to `work/kept` (the tmpfs vanishes with the namespace) for the case to inspect."""

    work: Path
    size_kb: int
    read_only: bool = False
    mount: str = "fs"

    def __post_init__(self):
        (self.work / self.mount).mkdir(exist_ok=True)
        if not namespaces() and self.read_only:
            if os.geteuid() == 0:  # root writes through permissions: a regular file stands where a folder should be
                shutil.rmtree(self.work / self.mount)
                (self.work / self.mount).write_text("a file, not a folder\n")
            else:
                (self.work / self.mount).chmod(0o555)

    @property
    def kept(self) -> Path:
        return self.work / ("kept" if namespaces() else self.mount)

    def run(self, args: list[str]) -> Finished:
        if namespaces():
            script = ('mount -t tmpfs -o size="$SIZE"k tmpfs "$MNT" || exit 99; '
                      'if [ -n "$RO" ]; then mount -o remount,ro "$MNT" || exit 99; fi; '
                      '"$@"; code=$?; rm -rf "$KEEP"; mkdir -p "$KEEP"; cp -a "$MNT/." "$KEEP/"; exit $code')
            return dreamplan(self.work, args, wrap=lambda c: ["unshare", "-rm", "sh", "-c", script, "sh", *c],
                             env={"SIZE": str(self.size_kb), "MNT": self.mount, "RO": "1" if self.read_only else "",
                                  "KEEP": "kept"})
        limit = self.size_kb * 1024 // 4  # a limit per file, not for all of them: files a quarter of the disk fail
        return dreamplan(self.work, args, preexec_fn=None if self.read_only else
                         lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))


# -------------------------------------------------------------------------------------------------------- cases
@dataclass
class Observed:
    code: int | None
    line: str  # the `dreamplan:` line(s) on stderr
    error_lines: int
    traceback: bool
    hang: bool
    orphans: int = 0  # workers of a killed main process still running once the same command ran again
    lost: dict = field(default_factory=lambda: {"episodes": 0, "shards": 0, "bytes": 0})
    problems: list[str] = field(default_factory=list)  # anything else the case expects that did not hold


def _is_progress(line: str) -> bool:
    return bool(re.search(r"\[\d+:\d\d", line))  # a tqdm bar: "...[00:03<00:01, 2.1ep/s]"


def observe(done: Finished, **kw) -> Observed:
    lines = [s for s in re.split(r"[\r\n]", done.stderr) if s.strip()]
    errors = [s for s in lines if s.startswith("dreamplan:")]
    observed = Observed(code=done.code, line=" / ".join(errors), error_lines=len(errors),
                        traceback="Traceback" in done.stderr, hang=done.code is None, **kw)
    noise = [s for s in lines if not s.startswith("dreamplan:") and not _is_progress(s)]
    if noise:
        observed.problems.append(f"stderr has other lines: {' / '.join(noise)[-1500:]!r}")
    return observed


def lose(observed: Observed, kind: str, names: list[str], sizes: dict) -> None:
    observed.lost[kind] += len(names)
    observed.lost["bytes"] += sum(sizes[n][0] for n in names if n in sizes)
    if names:
        observed.problems.append(f"{kind} gone, changed or unreadable: {', '.join(names)}")


@dataclass
class Case:
    name: str
    fault: str
    code: int
    line: str | Callable[[], str] | None  # a regex the one stderr line must match (searched); None: no such line
    scenario: Callable[[Path], Observed]
    slow: bool = False  # only benchmarks/faults.py runs it (tests/reliability skips it)

    def expected_line(self) -> str | None:
        return self.line() if callable(self.line) else self.line

    def check(self, observed: Observed) -> list[str]:
        """What did not go as expected (empty: the case holds)."""
        failures = list(observed.problems)
        if observed.hang:
            failures.append("hung (killed at the timeout)")
        if observed.code != self.code:
            failures.append(f"exit code {observed.code}, expected {self.code}")
        if observed.traceback:
            failures.append("a traceback on stderr")
        expected = self.expected_line()
        if expected is None and observed.error_lines:
            failures.append(f"unexpected error line {observed.line!r}")
        if expected is not None and (observed.error_lines != 1 or not re.search(expected, observed.line)):
            failures.append(f"stderr line {observed.line!r} ({observed.error_lines} lines), expected /{expected}/")
        if observed.orphans:
            failures.append(f"{observed.orphans} orphan workers")
        if any(observed.lost.values()):
            failures.append(f"lost {observed.lost}")
        return failures


def _fault_during(work: Path, args: list[str], ready: Callable[[Command], bool], files: Callable[[], dict],
                  fault: Callable[[Command], None], missed: str) -> tuple[Observed, dict]:
    """`dreamplan ARGS`, with `fault(proc)` injected once `ready(proc)`, run to its end: (what was observed, the
    files `files()` listed when the fault came). `missed` is the problem noted if the command ended first."""
    proc = start(work, args)
    injected = wait_until(proc, lambda: ready(proc))
    before = files()
    if injected:
        fault(proc)
    observed = observe(finish(proc))
    if not injected:
        observed.problems.append(missed)
    return observed, before


# --- SIGKILL of a worker
def eval_worker_killed(work: Path) -> Observed:
    out, n = work / "run", 24
    observed, before = _fault_during(
        work, [*EVAL, f"episodes={n}", "workers=2", f"out={out}"],
        lambda proc: len(episode_files(out)) >= 2 and len(workers(proc)) >= 2, lambda: episode_files(out),
        lambda proc: workers(proc)[0].kill(), "the eval ended before a worker could be killed")
    episodes = eval_episodes(out)
    lose(observed, "episodes", changed(before, episode_files(out)), before)
    observed.lost["episodes"] += n - sum(ep["success"] for ep in episodes)  # the expert solves every one
    return observed


def record_worker_killed(work: Path) -> Observed:
    out = work / "data"
    observed, before = _fault_during(
        work, [*RECORD, "episodes=16", "episodes_per_shard=4", "workers=2", f"out={out}"],
        lambda proc: len(shard_files(out)) >= 1 and len(workers(proc)) >= 2, lambda: shard_files(out),
        lambda proc: workers(proc)[0].kill(), "the recording ended before a worker could be killed")
    after = shard_files(out)
    lose(observed, "shards", changed(before, after) + unreadable_shards(out), before)
    observed.lost["shards"] += 4 - len(after)
    return observed


# --- SIGKILL of the main process, then the same command again
def _kill_main(proc: Command) -> list[psutil.Process]:
    """SIGKILL the main process (as the OOM killer would); its workers, to look for orphans once the same command
    has run again (a worker left alone idles forever on its dead parent's pipe; one still starting may take some
    seconds to notice)."""
    pool = workers(proc)
    proc.kill()
    proc.wait()
    return pool


def eval_main_killed(work: Path) -> Observed:
    out, n = work / "run", 24
    args = [*EVAL, f"episodes={n}", "workers=2", f"out={out}"]
    proc = start(work, args)
    injected = wait_until(proc, lambda: len(episode_files(out)) >= 3)
    before = episode_files(out)
    pool = _kill_main(proc) if injected else []
    observed = observe(dreamplan(work, args))  # at once, as a user would
    observed.orphans = still_running(pool)
    if not injected:
        observed.problems.append("the eval ended before it could be killed")
    lose(observed, "episodes", changed(before, episode_files(out)), before)
    observed.lost["episodes"] += n - sum(ep["success"] for ep in eval_episodes(out))
    return observed


def record_main_killed(work: Path) -> Observed:
    out = work / "data"
    args = [*RECORD, "episodes=16", "episodes_per_shard=4", "workers=2", f"out={out}"]
    proc = start(work, args)
    injected = wait_until(proc, lambda: len(shard_files(out)) >= 1)
    before = shard_files(out)
    pool = _kill_main(proc) if injected else []
    observed = observe(dreamplan(work, args))  # at once, as a user would
    observed.orphans = still_running(pool)
    if not injected:
        observed.problems.append("the recording ended before it could be killed")
    after = shard_files(out)
    lose(observed, "shards", changed(before, after) + unreadable_shards(out), before)
    observed.lost["shards"] += 4 - len(after)
    return observed


# --- Ctrl-C (SIGINT to the whole process group, as a terminal sends it)
def _ctrl_c(proc: Command) -> None:
    os.killpg(proc.pid, signal.SIGINT)


def eval_interrupted(work: Path) -> Observed:
    out = work / "run"
    observed, before = _fault_during(
        work, [*EVAL, "episodes=24", "workers=2", f"out={out}"], lambda proc: len(episode_files(out)) >= 3,
        lambda: episode_files(out), _ctrl_c, "the eval ended before it could be interrupted")
    lose(observed, "episodes", changed(before, episode_files(out)) + unreadable_episodes(out), before)
    return observed


def record_interrupted(work: Path) -> Observed:
    out = work / "data"
    observed, before = _fault_during(
        work, [*RECORD, "episodes=16", "episodes_per_shard=4", "workers=2", f"out={out}"],
        lambda proc: len(shard_files(out)) >= 1, lambda: shard_files(out), _ctrl_c,
        "the recording ended before it could be interrupted")
    lose(observed, "shards", changed(before, shard_files(out)) + unreadable_shards(out), before)
    if temp_files(out):
        observed.problems.append(f"temporary files left: {temp_files(out)}")
    return observed


# --- a full disk: stop at once, keep what is complete, resume once there is room
def record_disk_full(work: Path) -> Observed:
    disk = SmallDisk(work, size_kb=64)
    args = [*RECORD, "episodes=8", "episodes_per_shard=1", "workers=2"]
    observed = observe(disk.run([*args, f"out={disk.mount}/data"]))
    kept = disk.kept / "data"
    if temp_files(kept):
        observed.problems.append(f"temporary files left: {temp_files(kept)}")
    lose(observed, "shards", unreadable_shards(kept), shard_files(kept))
    if not shard_files(kept) and namespaces():
        observed.problems.append("no shard was complete before the disk filled up (make the disk larger)")
    roomy = work / "roomy"  # the same folder on a disk with room: the recording resumes
    shutil.copytree(kept, roomy)
    before = shard_files(roomy)
    resumed = dreamplan(work, [*args, f"out={roomy}"])
    if resumed.code != 0:
        observed.problems.append(f"resuming with room exited {resumed.code}: {resumed.stderr[-300:]!r}")
    after = shard_files(roomy)
    lose(observed, "shards", changed(before, after), before)
    observed.lost["shards"] += 8 - len(after)
    return observed


def eval_disk_full(work: Path) -> Observed:
    disk = SmallDisk(work, size_kb=24)
    n = 16
    args = [*EVAL, f"episodes={n}", "workers=2"]
    observed = observe(disk.run([*args, f"out={disk.mount}/run"]))
    kept = disk.kept / "run"
    lose(observed, "episodes", unreadable_episodes(kept), episode_files(kept))
    if not episode_files(kept) and namespaces():
        observed.problems.append("no episode was finished before the disk filled up (make the disk larger)")
    roomy = work / "roomy"
    shutil.copytree(kept, roomy)
    before = episode_files(roomy)
    resumed = dreamplan(work, [*args, f"out={roomy}"])
    if resumed.code != 0:
        observed.problems.append(f"resuming with room exited {resumed.code}: {resumed.stderr[-300:]!r}")
    lose(observed, "episodes", changed(before, episode_files(roomy)), before)
    observed.lost["episodes"] += n - len(eval_episodes(roomy))
    return observed


def train_disk_full(work: Path) -> Observed:
    data = work / "data"
    recorded = dreamplan(work, [*RECORD, "env.image_size=64", "episodes=2", "episodes_per_shard=2", "workers=1",
                                f"out={data}"])
    if recorded.code != 0:
        raise RuntimeError(f"recording the training data failed: {recorded.stderr[-500:]}")
    disk = SmallDisk(work, size_kb=200)
    observed = observe(disk.run(["train", "invdyn", f"data={data}", f"run_dir={disk.mount}/run", "trainer.steps=2",
                                 "trainer.batch_size=4", "trainer.checkpoint_every=1", "trainer.log_every=1",
                                 "trainer.warmup_steps=0"]))
    if list((disk.kept / "run" / "checkpoints").glob("step-*")):
        observed.problems.append("a checkpoint was published although the disk was full")
    return observed


# --- a read-only output folder, a file where a folder should be
def eval_read_only(work: Path) -> Observed:
    disk = SmallDisk(work, size_kb=64, read_only=True)
    return observe(disk.run([*EVAL, "episodes=2", "workers=1", f"out={disk.mount}/run"]))


def record_read_only(work: Path) -> Observed:
    disk = SmallDisk(work, size_kb=64, read_only=True)
    return observe(disk.run([*RECORD, "episodes=2", "workers=1", f"out={disk.mount}/data"]))


def run_video_read_only(work: Path) -> Observed:
    """The episode's outcome is printed before the video is written, and survives a video that cannot be."""
    disk = SmallDisk(work, size_kb=64, read_only=True)
    done = disk.run(["run", INSTRUCTION, "agent=expert", f"out={disk.mount}/video.mp4"])
    observed = observe(done)
    if not re.search(r"^success after \d+ steps", done.stdout, re.M):
        observed.problems.append(f"the outcome was not printed: {done.stdout[-300:]!r}")
    return observed


def eval_out_under_a_file(work: Path) -> Observed:
    (work / "notes.txt").write_text("a file\n")
    return observe(dreamplan(work, [*EVAL, "episodes=1", "workers=1", "out=notes.txt/run"]))


def record_out_is_a_file(work: Path) -> Observed:
    (work / "notes.txt").write_text("a file\n")
    return observe(dreamplan(work, [*RECORD, "episodes=1", "workers=1", "out=notes.txt"]))


# --- a corrupt checkpoint (truncated safetensors)
def _truncated_checkpoint(work: Path, shipped: str) -> Path:
    from dreamplan.paths import CHECKPOINTS

    target = work / f"broken-{shipped}"
    target.mkdir()
    shutil.copy(CHECKPOINTS / shipped / "config.json", target / "config.json")
    weights = (CHECKPOINTS / shipped / "model.safetensors").read_bytes()
    (target / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    return target


def run_corrupt_videomodel(work: Path) -> Observed:
    broken = _truncated_checkpoint(work, "videomodel")
    return observe(dreamplan(work, ["run", INSTRUCTION, f"videomodel.path={broken.name}"]))


def eval_corrupt_invdyn(work: Path) -> Observed:
    """In eval's worker processes: the error crosses a process boundary, and still reads as one line."""
    broken = _truncated_checkpoint(work, "invdyn-k4")
    return observe(dreamplan(work, ["eval", "tasks=[push_to_center]", "videos=false", "attribute=false", "episodes=1",
                                    "workers=2", "invdyn=cnn_pretrained", f"invdyn.path={broken.name}", "out=run"]))


# --- a resume that asks for something else
def eval_mismatched_resume(work: Path) -> Observed:
    first = dreamplan(work, [*EVAL, "episodes=2", "workers=1", "out=run"])
    before = episode_files(work / "run")
    observed = observe(dreamplan(work, [*EVAL, "episodes=2", "workers=1", "seed=5", "out=run"]))
    if first.code != 0:
        observed.problems.append(f"the first eval exited {first.code}")
    lose(observed, "episodes", changed(before, episode_files(work / "run")), before)
    return observed


def record_mismatched_resume(work: Path) -> Observed:
    first = dreamplan(work, [*RECORD, "episodes=2", "workers=1", "out=data"])
    before, manifest = shard_files(work / "data"), (work / "data" / "record.json").read_text()
    observed = observe(dreamplan(work, ["record", "tasks=[push_to_center]", "env.image_size=24", "episodes=2",
                                        "workers=1", "out=data"]))
    if first.code != 0:
        observed.problems.append(f"the first recording exited {first.code}")
    if (work / "data" / "record.json").read_text() != manifest:
        observed.problems.append("record.json was rewritten by the refused recording")
    lose(observed, "shards", changed(before, shard_files(work / "data")), before)
    return observed


# --- bad values and literal instructions
BAD_SEEDS = [(command, seed) for command in ("run", "eval", "record") for seed in ("-1", "abc")]


def bad_seeds(work: Path) -> Observed:
    """seed=-1 and seed=abc in run, eval and record (six commands, at once): one line each."""
    args = {"run": ["run", INSTRUCTION, "agent=expert"], "eval": [*EVAL, "episodes=1", "out=run"],
            "record": [*RECORD, "episodes=1", "out=data"]}
    procs = {(c, s): start(work, [*args[c], f"seed={s}"]) for c, s in BAD_SEEDS}
    results = {key: observe(finish(p)) for key, p in procs.items()}
    observed = results[BAD_SEEDS[0]]
    for (command, seed), r in results.items():
        expected = f"dreamplan: error: seed must be an integer >= 0, got {seed if seed == '-1' else repr(seed)}"
        if r.code != 2 or r.error_lines != 1 or r.traceback or r.line != expected:
            observed.problems.append(f"{command} seed={seed}: exit {r.code}, {r.line!r}")
    return observed


def literal_instruction(work: Path) -> Observed:
    """An instruction is text: `${...}` is not interpolated, `=` does not make it an override."""
    return observe(dreamplan(work, ["run", "push the ${oc.env:HOME} cube so that x=1", "agent=expert"]))


def long_instruction(work: Path) -> Observed:
    observed = observe(dreamplan(work, ["run", "fly to the moon " * 320, "agent=expert"]))
    if len(observed.line) > 400:
        observed.problems.append(f"the error line is {len(observed.line)} characters long")
    return observed


# --- the bar: a 200-episode eval killed three times equals an uninterrupted one
def eval_killed_three_times(work: Path) -> Observed:
    n = 200
    args = [*EVAL, f"episodes={n}", "workers=2"]
    reference = dreamplan(work, [*args, "out=uninterrupted"])
    if reference.code != 0:
        raise RuntimeError(f"the uninterrupted eval failed: {reference.stderr[-500:]}")
    out, pool, kills = work / "killed", [], 0
    lost: list[str] = []
    for stop_at in (50, 100, 150):
        proc = start(work, [*args, f"out={out}"])
        if wait_until(proc, lambda: len(episode_files(out)) >= stop_at):
            before = episode_files(out)
            pool += _kill_main(proc)
            kills += 1
            after = episode_files(out)
            lost += changed(before, after)
        else:
            finish(proc)
    observed = observe(dreamplan(work, [*args, f"out={out}"]), orphans=still_running(pool))
    if kills != 3:
        observed.problems.append(f"killed {kills} times, not 3 (the eval ran out of episodes first)")
    observed.lost["episodes"] += len(lost) + n - len(eval_episodes(out))

    def outcomes(run: Path) -> list[dict]:
        return [{k: v for k, v in ep.items() if k not in ("wall_s", "timings")} for ep in eval_episodes(run)]

    if outcomes(out) != outcomes(work / "uninterrupted"):
        differ = sum(a != b for a, b in zip(outcomes(out), outcomes(work / "uninterrupted")))
        observed.problems.append(f"{differ} episodes differ from the uninterrupted run on the same seeds")
    return observed


CASES = [
    Case("eval-worker-sigkill", "SIGKILL of an eval worker mid-episode", 0, None, eval_worker_killed),
    Case("record-worker-sigkill", "SIGKILL of a record worker mid-shard", 0, None, record_worker_killed),
    Case("eval-main-sigkill", "SIGKILL of eval's main process, then the same command", 0, None, eval_main_killed),
    Case("record-main-sigkill", "SIGKILL of record's main process, then the same command at once", 0, None,
         record_main_killed),
    Case("eval-sigint", "Ctrl-C (SIGINT to the process group) during eval", 130,
         r"^dreamplan: interrupted \(finished episodes are kept", eval_interrupted),
    Case("record-sigint", "Ctrl-C (SIGINT to the process group) during record", 130,
         r"^dreamplan: interrupted \(complete shards are kept", record_interrupted),
    Case("record-disk-full", "disk full during record (2 workers), then resumed with room", 2,
         lambda: rf"^dreamplan: error: {disk_full_message()} fs/data/shard-\d{{5}}\.h5$", record_disk_full),
    Case("eval-disk-full", "disk full during eval (2 workers), then resumed with room", 2,
         lambda: rf"^dreamplan: error: {disk_full_message()} fs/run/\S+$", eval_disk_full),
    Case("train-disk-full", "disk full while training saves a checkpoint", 2,
         lambda: rf"^dreamplan: error: {disk_full_message()} fs/run/\S+$", train_disk_full),
    Case("eval-read-only", "eval out= on a read-only file system", 2,
         lambda: rf"^dreamplan: error: {read_only_message()} fs(/run)?$", eval_read_only),
    Case("record-read-only", "record out= on a read-only file system", 2,
         lambda: rf"^dreamplan: error: {read_only_message()} fs(/data)?$", record_read_only),
    Case("run-video-read-only", "run's video on a read-only file system (the outcome is kept)", 2,
         lambda: rf"^dreamplan: error: {read_only_message()} fs(/video\.mp4)?$", run_video_read_only),
    Case("eval-out-under-a-file", "eval out= below a regular file", 2,
         r"^dreamplan: error: not a directory: notes\.txt/run$", eval_out_under_a_file),
    Case("record-out-is-a-file", "record out= naming a regular file", 2,
         r"^dreamplan: error: file exists: notes\.txt$", record_out_is_a_file),
    Case("run-corrupt-videomodel", "run with videomodel.path= a truncated safetensors", 2,
         r"^dreamplan: error: broken-videomodel/model\.safetensors: unreadable or corrupt", run_corrupt_videomodel),
    Case("eval-corrupt-invdyn", "eval (2 workers) with invdyn.path= a truncated safetensors", 2,
         r"^dreamplan: error: broken-invdyn-k4/model\.safetensors: unreadable or corrupt", eval_corrupt_invdyn),
    Case("eval-mismatched-resume", "eval into an out= of another config (seed)", 2,
         r"^dreamplan: error: run holds an eval of a different config \(differs in seed\)", eval_mismatched_resume),
    Case("record-mismatched-resume", "record into an out= of other tasks", 2,
         r"^dreamplan: error: data holds a recording with different tasks \(its record\.json\)",
         record_mismatched_resume),
    Case("bad-seeds", "seed=-1 and seed=abc in run, eval and record", 2,
         r"^dreamplan: error: seed must be an integer >= 0, got -1$", bad_seeds),
    Case("literal-instruction", "run 'push the ${oc.env:HOME} cube so that x=1'", 2,
         r"^dreamplan: error: .*" + re.escape("'push the ${oc.env:HOME} cube so that x=1'"), literal_instruction),
    Case("long-instruction", "run with a 5 KB instruction", 2,
         r"^dreamplan: error: .*'fly to the moon fly .{40,80}…'", long_instruction),
    Case("eval-200-killed-3-times", "a 200-episode eval SIGKILLed three times, then finished; vs uninterrupted", 0,
         None, eval_killed_three_times, slow=True),
]


def run_case(case: Case) -> dict:
    """Run `case` in a fresh folder; its row of the table."""
    with tempfile.TemporaryDirectory(prefix=f"fault-{case.name}-") as d:
        t0 = time.perf_counter()
        observed = case.scenario(Path(d))
        seconds = time.perf_counter() - t0
        if Path(d, "fs").exists():
            Path(d, "fs").chmod(0o755)  # the read-only stand-in, so that the folder can be removed
    failures = case.check(observed)
    return {"case": case.name, "fault": case.fault, "expected": {"code": case.code, "line": case.expected_line()},
            "observed": asdict(observed), "seconds": round(seconds, 1), "ok": not failures, "failures": failures}


def _lost_text(lost: dict) -> str:
    return f"{lost['episodes']} episodes, {lost['shards']} shards, {lost['bytes']} B"


def table(rows: list[dict]) -> str:
    lines = ["| case | expected | observed | hang | data lost | ok |", "|---|---|---|---|---|---|"]
    for r in rows:
        o, e = r["observed"], r["expected"]
        expected = f"exit {e['code']}" + (f", /{e['line']}/" if e["line"] else ", no error line")
        observed = f"exit {o['code']}" + (f", {o['line']}" if o["line"] else "")
        if o["orphans"]:
            observed += f"; {o['orphans']} orphans"
        ok = "yes" if r["ok"] else "**no**: " + "; ".join(r["failures"])
        lines.append(f"| {r['fault']} | {expected.replace('|', '∣')} | {observed.replace('|', '∣')} | "
                     f"{'y' if o['hang'] else 'n'} | {_lost_text(o['lost'])} | {ok} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help=f"run these cases and update their rows of --out (of: {', '.join(c.name for c in CASES)})")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "faults.json")
    args = p.parse_args()
    unknown = set(args.only or ()) - {c.name for c in CASES}
    if unknown:
        p.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    rows = {}
    if args.only and args.out.is_file():
        rows = {r["case"]: r for r in json.loads(args.out.read_text())["cases"]}
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        print(f"{case.name} ...", file=sys.stderr, flush=True)
        rows[case.name] = run_case(case)
    rows = [rows[c.name] for c in CASES if c.name in rows]
    print(table(rows))
    from training.atomic import atomic_write

    atomic_write(args.out, json.dumps({"file_systems": "tmpfs in a mount namespace" if namespaces() else
                                       "RLIMIT_FSIZE and permissions", "timeout_s": TIMEOUT, "cases": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
