"""Checkpoints on disk: weights as safetensors, everything else as tensors-only torch files, written atomically.

    run_dir/
      run.json                       seed and configs the run started with
      metrics.jsonl                  one line per log step
      checkpoints/step-0001000/
        model.safetensors            the trained weights
        ema.safetensors              their moving average (only with trainer.ema_decay)
        config.json                  {"model": ..., "train": ..., "seed": ..., "step": ...}
        training_state.pt            optimizer, scheduler and step (read with torch.load(weights_only=True))
        rng-<rank>.pt                each process's random number generator states

A checkpoint directory is written under a temporary name (each file synced to disk) and renamed into place, so one
that exists is whole.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from training.atomic import write_synced

_STEP_DIR = re.compile(r"^step-(\d+)$")


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable, corrupt, or made for a different config."""


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:07d}"


def temp_dir_for(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp")


def publish(tmp: Path, final: Path) -> None:
    """Move a fully written temp directory into place (replacing an older `final`)."""
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    found = [p for p in root.glob("step-*") if _STEP_DIR.match(p.name) and (p / "config.json").exists()] if root.is_dir() else []
    return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint directory itself, or the latest checkpoint of a run directory."""
    path = Path(path)
    if (path / "config.json").exists():
        return path
    latest = latest_checkpoint(path)
    if latest is None:
        raise CheckpointError(f"{path}: no checkpoint here (expected config.json + model.safetensors, "
                              "or a run dir with checkpoints/step-*)")
    return latest


def save_weights(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    # serialized in memory, then written by write_synced: safetensors' own writer reports a full disk without errno
    write_synced(path, save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}))


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: missing weights file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable or corrupt safetensors file ({str(e).splitlines()[0]})") from None


def load_weights_into(model: torch.nn.Module, path: str | Path) -> None:
    state = load_weights(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))
        raise CheckpointError(f"{path}: weights do not fit the model built from its config ({first})") from None


def save_model(directory: str | Path, state_dict: dict[str, torch.Tensor], config: dict[str, Any]) -> Path:
    """A model for `load_model`: model.safetensors + config.json {"model": config}, written atomically."""
    final = Path(directory)
    tmp = temp_dir_for(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(tmp / "model.safetensors", state_dict)
    write_synced(tmp / "config.json", json.dumps({"model": config}, indent=2).encode())
    publish(tmp, final)
    return final


def load_model(path: str | Path, build: Callable[[dict[str, Any]], torch.nn.Module], what: str,
               ema: bool = True) -> torch.nn.Module:
    """A `save_model`d model, a training checkpoint (step-*/), or a run dir's latest checkpoint: `build` makes
    the model from its config's "model" entry (a TypeError/ValueError there means the config is not `what`),
    then the weights go in -- the moving average when `ema` and the checkpoint has one."""
    ckpt = resolve_checkpoint(path)
    config = read_checkpoint_config(ckpt).get("model")
    if not isinstance(config, dict):
        raise CheckpointError(f"{ckpt}/config.json: has no model config")
    try:
        model = build(config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{ckpt}/config.json: not {what} config ({e})") from None
    ema_file = ckpt / "ema.safetensors"
    load_weights_into(model, ema_file if ema and ema_file.exists() else ckpt / "model.safetensors")
    return model


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    path = Path(path) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing (not a checkpoint directory)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: unreadable or corrupt ({e})") from None


def save_tensors(path: Path, obj: Any) -> None:
    # serialized in memory: torch.save on a full disk raises "unexpected pos ...", never saying the disk is full
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_synced(path, buffer.getvalue())


def load_tensors(path: Path) -> Any:
    """torch.load restricted to tensors and plain containers: never unpickles arbitrary objects."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing training state file") from None
    except Exception as e:  # torch raises many types for a damaged zip/pickle
        raise CheckpointError(f"{path}: unreadable or corrupt training state ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None


def config_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """'key: old -> new' for every leaf that differs between two nested dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            out += config_differences(old.get(k, "<unset>"), new.get(k, "<unset>"), f"{prefix}{k}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]
