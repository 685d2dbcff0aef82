"""Weights on disk as safetensors + config.json (never pickles), in the layout the trainer writes:

    <dir>/model.safetensors   the weights
    <dir>/ema.safetensors     their moving average (training checkpoints only, optional)
    <dir>/config.json         {"model": <constructor config>, ...}

`load` takes such a directory, or a run directory (its latest checkpoints/step-*).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from sim.errors import DreamplanError

_STEP_DIR = re.compile(r"^step-(\d+)$")


class VideoModelCheckpointError(DreamplanError):
    """A video-model checkpoint that is missing, unreadable, or made for a different architecture."""


def save(directory: str | Path, state_dict: dict[str, torch.Tensor], config: dict[str, Any]) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps({"model": config}, indent=2))
    return directory


def resolve(path: str | Path) -> Path:
    path = Path(path)
    if (path / "config.json").exists():
        return path
    steps = [p for p in (path / "checkpoints").glob("step-*") if _STEP_DIR.match(p.name) and (p / "config.json").exists()]
    if not steps:
        raise VideoModelCheckpointError(f"{path}: no checkpoint here (expected config.json + model.safetensors, "
                                        "or a run dir with checkpoints/step-*)")
    return max(steps, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))


def load(path: str | Path, ema: bool = True) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(constructor config, state dict); the EMA weights when `ema` and the checkpoint has them."""
    directory = resolve(path)
    try:
        config = json.loads((directory / "config.json").read_text())["model"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise VideoModelCheckpointError(f"{directory}/config.json: unreadable or not a model config ({e})") from None
    weights = directory / "ema.safetensors"
    if not (ema and weights.exists()):
        weights = directory / "model.safetensors"
    try:
        return config, load_file(str(weights))
    except FileNotFoundError:
        raise VideoModelCheckpointError(f"{weights}: missing weights file") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise VideoModelCheckpointError(f"{weights}: unreadable or corrupt ({str(e).splitlines()[0]})") from None


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))
        raise VideoModelCheckpointError(f"{path}: weights do not fit the model built from its config ({first})") from None
