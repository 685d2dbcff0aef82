"""Run the current command as N processes with torchrun (DDP: gloo on CPU, NCCL on GPU)."""

from __future__ import annotations

import os
import subprocess
import sys


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
