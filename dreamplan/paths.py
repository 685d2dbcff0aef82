"""Where the shipped checkpoints are: beside the installed project, whatever the working directory.

Configs name them `${shipped:videomodel}`; a path given on the command line (`videomodel.path=runs/x`) is the
user's own and stays relative to the working directory.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

import configs

PROJECT_ROOT = Path(configs.__file__).resolve().parent.parent
CHECKPOINTS = PROJECT_ROOT / "checkpoints"


def shipped(name: str) -> str:
    """The absolute path of the shipped checkpoint `name` (checkpoints/<name> in the project)."""
    return str(CHECKPOINTS / name)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("shipped"):
        OmegaConf.register_new_resolver("shipped", shipped)
