"""Run the current command as N processes with torchrun (DDP: gloo on CPU, NCCL on GPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager


def relaunch_under_torchrun(devices: int) -> None:
    """If `devices` > 1 and this is not already a torchrun worker, re-run this very command line under
    `python -m torch.distributed.run --standalone --nproc_per_node=devices` and exit with its status."""
    if devices <= 1 or "LOCAL_RANK" in os.environ:
        return
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={devices}", *sys.argv]
    with subprocess.Popen(cmd) as proc:
        while True:
            try:
                raise SystemExit(proc.wait())
            except KeyboardInterrupt:  # the workers got the same Ctrl-C: let them save a checkpoint and exit
                continue


@contextmanager
def main_process_first():
    """Under torchrun the body runs on the main process first and on the others once it is done (e.g. a
    cache the main process writes and the others then read); in a single process, just the body."""
    if "LOCAL_RANK" not in os.environ:
        yield
        return
    import torch
    from accelerate import PartialState

    with PartialState(cpu=not torch.cuda.is_available()).main_process_first():  # the state Trainer's Accelerator reuses
        yield
