"""Expert episodes on disk (HDF5 shards) and the windows the models train on.

Layout of one shard, ``shard-00003.h5`` (written as a temp file and renamed, so a shard on disk is whole):

    attrs:  format="dreamplan-episodes", version=1, complete=True, num_episodes, env (JSON of the env config)
    episodes/000000/            one group per episode, numbered within the shard
        frames         uint8   [T+1, H, W, 3]   camera image before each step and after the last
        actions        float32 [T, 2]           normalised pusher displacement in [-1, 1] (x max_step metres)
        states         float32 [T+1, D]         env state vector (pusher xy, per block present/x/y/yaw)
        subgoal_index  int16   [T]              which subgoal the expert worked on at each step
        attrs: seed, task, split, instruction, success (bool), subgoals (JSON list of {text, target, reached}),
               initial (JSON snapshot the env can be restored from)

Readers never load a shard that lacks ``complete=True``; a truncated or corrupt file raises DatasetError naming it.
Beside the shards, ``record.json`` holds what the recording was asked for (tasks, split, seeds, episodes, env
config), written before the first shard: a resumed recording must ask for the same.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np

from sim.errors import DreamplanError

FORMAT = "dreamplan-episodes"
VERSION = 1


class DatasetError(DreamplanError):
    """A shard or dataset directory that cannot be used, with the reason in one line."""


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.h5"


def write_atomically(path: Path, data: bytes) -> None:
    """`data` to `path` whole or not at all: written beside it under a temporary name, synced, renamed into place.
    An OSError (disk full, read-only, ...) names `path`, and the temporary file is removed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as e:
        if e.errno is None:
            raise
        raise OSError(e.errno, e.strerror, str(path)) from None  # a failed write() names no file
    finally:
        if tmp.exists():
            tmp.unlink()


class ShardWriter:
    """Builds a shard in memory; `close()` marks it complete and writes it to disk at once (`write_atomically`).

    In memory because HDF5 writes its caches to a file later, from destructors: a full disk then surfaces as a
    flood of errors and a crash instead of one OSError at a known point."""

    def __init__(self, path: str | Path, env_config: dict):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(str(self.path), "w", driver="core", backing_store=False)
        self._file.attrs.update(format=FORMAT, version=VERSION, complete=False, env=json.dumps(env_config))
        self._episodes = self._file.create_group("episodes")
        self.count = 0

    def add(self, frames: np.ndarray, actions: np.ndarray, states: np.ndarray, subgoal_index: np.ndarray, **attrs) -> None:
        if not (len(frames) == len(states) == len(actions) + 1 == len(subgoal_index) + 1):
            raise ValueError(f"episode arrays disagree: {len(frames)} frames, {len(states)} states, {len(actions)} actions")
        g = self._episodes.create_group(f"{self.count:06d}")
        h, w = frames.shape[1:3]
        g.create_dataset("frames", data=np.asarray(frames, np.uint8), chunks=(1, h, w, 3), compression="lzf")
        g.create_dataset("actions", data=np.asarray(actions, np.float32))
        g.create_dataset("states", data=np.asarray(states, np.float32))
        g.create_dataset("subgoal_index", data=np.asarray(subgoal_index, np.int16))
        for k, v in attrs.items():
            g.attrs[k] = json.dumps(v) if isinstance(v, (dict, list)) else v
        self.count += 1

    def close(self) -> Path:
        self._file.attrs.update(complete=True, num_episodes=self.count)
        self._file.flush()
        image = self._file.id.get_file_image()
        self._file.close()
        write_atomically(self.path, image)
        return self.path

    def abort(self) -> None:
        self._file.close()

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def open_shard(path: str | Path) -> h5py.File:
    """Open a shard for reading, or raise DatasetError saying why it cannot be used."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DatasetError(f"{path}: not a readable HDF5 shard (corrupt or truncated): {e}") from None
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise DatasetError(f"{path}: not a dreamplan episode shard (format={f.attrs.get('format')!r})")
    if not f.attrs.get("complete", False):
        f.close()
        raise DatasetError(f"{path}: partial shard (writing was interrupted); delete it and re-run the recording")
    return f


def shard_done(path: str | Path, expected: int) -> bool:
    """Whether `path` is a complete shard of `expected` episodes (a resumed recording keeps it)."""
    path = Path(path)
    if not path.exists():
        return False
    try:
        with open_shard(path) as f:
            return int(f.attrs["num_episodes"]) == expected
    except DatasetError:
        return False


def remove_partial_shards(directory: str | Path) -> None:
    """Delete the temp files of shards whose writing was interrupted (a resumed recording redoes those shards)."""
    for stale in Path(directory).glob(".shard-*.h5*.tmp"):  # write_atomically's temp names (and older ones)
        stale.unlink(missing_ok=True)


def check_recording(out: Path, request: dict) -> None:
    """Let a recording into `out` go ahead only if it is the one `out` holds: a new folder gets `request` as its
    record.json before any shard is written; an existing record.json must ask for the same (else a one-line
    refusal naming what differs), so a resumed recording never mixes shards of two requests."""
    path = out / "record.json"
    request = json.loads(json.dumps(request))  # tuples as lists, as they read back
    if path.exists():
        try:
            held = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DatasetError(f"{path}: unreadable ({e}); give another out=") from None
        differ = []
        for key, value in request.items():
            if isinstance(value, dict) and isinstance(held.get(key), dict):
                keys = sorted(set(value) | set(held[key]))
                differ += [f"{key}.{k}" for k in keys if value.get(k) != held[key].get(k)]
            elif held.get(key) != value:
                differ.append(key)
        if differ:
            raise DatasetError(f"{out} holds a recording with different {', '.join(differ)} (its record.json): re-run "
                               "with the same settings to resume it, or give another out=")
    elif any(out.glob("shard-*.h5")):
        raise DatasetError(f"{out} holds shards but no record.json, so what they were recorded with is unknown: "
                           "give another out= (or delete them)")
    else:
        write_atomically(path, json.dumps(request, indent=2).encode())


def shard_paths(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """Complete shard files of a dataset directory (or the given files), sorted; of each, given several."""
    if not isinstance(source, (str, Path)):
        if not len(source):
            raise DatasetError("no dataset given")
        return [p for one in source for p in shard_paths(one)]
    paths = sorted(Path(source).glob("shard-*.h5")) if Path(source).is_dir() else [Path(source)]
    if not paths:
        raise DatasetError(f"{source}: no shard-*.h5 files (record some with `dreamplan record out=...`)")
    for p in paths:
        if not p.exists():
            raise DatasetError(f"{p}: no such shard")
    return paths


@dataclass(frozen=True)
class EpisodeRef:
    path: Path
    key: str
    task: str
    split: str
    success: bool
    num_steps: int
    subgoals: tuple[dict, ...]
    seed: int


class EpisodeStore:
    """Index over the episodes of a dataset; opens files lazily (one handle per process, fork-safe)."""

    def __init__(self, source, success_only: bool = True, tasks: Iterable[str] | None = None):
        wanted = set(tasks) if tasks else None
        self.refs: list[EpisodeRef] = []
        self.env_config: dict = {}
        for path in shard_paths(source):
            with open_shard(path) as f:
                self.env_config = json.loads(f.attrs["env"])
                try:
                    for key, g in f["episodes"].items():
                        a = g.attrs
                        ref = EpisodeRef(path, key, str(a["task"]), str(a["split"]), bool(a["success"]),
                                         int(g["actions"].shape[0]), tuple(json.loads(a["subgoals"])), int(a["seed"]))
                        if (ref.success or not success_only) and (wanted is None or ref.task in wanted):
                            self.refs.append(ref)
                except (KeyError, OSError, ValueError) as e:
                    raise DatasetError(f"{path}: damaged episode group ({e!r})") from None
        self._files: dict[Path, h5py.File] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.refs)

    def group(self, i: int) -> h5py.Group:
        if os.getpid() != self._pid:  # a forked DataLoader worker must not share HDF5 handles
            self._files, self._pid = {}, os.getpid()
        ref = self.refs[i]
        if ref.path not in self._files:
            self._files[ref.path] = open_shard(ref.path)
        return self._files[ref.path]["episodes"][ref.key]

    def episode(self, i: int) -> dict:
        g = self.group(i)
        out = {k: g[k][()] for k in ("frames", "actions", "states", "subgoal_index")}
        out.update({k: g.attrs[k] for k in ("task", "split", "instruction", "seed", "success")})
        out["subgoals"] = json.loads(g.attrs["subgoals"])
        out["initial"] = json.loads(g.attrs["initial"])
        return out

    def segments(self, i: int) -> list[tuple[int, int, dict]]:
        """(first step, one past last step, subgoal) for each subgoal the expert reached in episode i."""
        idx = self.group(i)["subgoal_index"][()]
        out = []
        for j, sg in enumerate(self.refs[i].subgoals):
            steps = np.flatnonzero(idx == j)
            if len(steps) and sg.get("reached", True):
                out.append((int(steps[0]), int(steps[-1]) + 1, sg))
        return out

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


class WindowDataset:
    """Training windows: frames t, t+k, ..., t+T*k of one subgoal segment, and the T*k actions between them.

    A window that runs past the end of its segment repeats the segment's last frame (the scene at rest once
    the subgoal is done) with zero actions, flagged by `action_mask`, so short segments are not dropped.
    Items are dicts of numpy arrays (a torch DataLoader collates them as is):
      frames [T+1, H, W, 3] uint8, actions [T, k, 2] float32, action_mask [T, k] bool, text (subgoal), ...
    With `in_memory` every episode's frames and actions are read once up front (reading windows out of
    the shards one by one is far slower than a small model's training step).
    """

    def __init__(self, source, horizon: int = 1, stride: int = 1, success_only: bool = True,
                 tasks: Iterable[str] | None = None, start_every: int = 1, in_memory: bool = False):
        if horizon < 1 or stride < 1 or start_every < 1:
            raise ValueError(f"horizon, stride and start_every must be >= 1, got {horizon}, {stride}, {start_every}")
        self.store = source if isinstance(source, EpisodeStore) else EpisodeStore(source, success_only, tasks)
        self.horizon, self.stride = horizon, stride
        self.index: list[tuple[int, int, int, int]] = []  # episode, segment start, segment end, window start
        self._texts: dict[tuple[int, int], dict] = {}
        for e in range(len(self.store)):
            for s, end, sg in self.store.segments(e):
                self._texts[(e, s)] = sg
                self.index += [(e, s, end, t) for t in range(s, end, start_every)]
        if not self.index:
            raise DatasetError("the dataset holds no usable subgoal segments")
        self._memory = None
        if in_memory:
            self._memory = []
            for e in range(len(self.store)):
                g = self.store.group(e)
                self._memory.append({"frames": g["frames"][()], "actions": g["actions"][()],
                                     "attrs": {"instruction": str(g.attrs["instruction"]), "task": str(g.attrs["task"])}})
            self.store.close()

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        e, s, end, t = self.index[i]
        g = self.store.group(e) if self._memory is None else self._memory[e]
        attrs = g.attrs if self._memory is None else g["attrs"]
        T, k = self.horizon, self.stride
        steps = t + np.arange(T * k)  # action steps covered
        mask = steps < end
        frame_steps = np.minimum(t + np.arange(T + 1) * k, end)
        frames = g["frames"][np.unique(frame_steps)]
        frames = frames[np.searchsorted(np.unique(frame_steps), frame_steps)]
        actions = np.zeros((T * k, 2), np.float32)
        actions[mask] = g["actions"][t : min(t + T * k, end)]
        sg = self._texts[(e, s)]
        return {
            "frames": frames,
            "actions": actions.reshape(T, k, 2),
            "action_mask": mask.reshape(T, k),
            "text": sg["text"],
            "target": json.dumps(sg.get("target")),
            "instruction": str(attrs["instruction"]),
            "task": str(attrs["task"]),
            "episode": e,
            "t": t,
        }
