"""The same training script as 2 DDP processes on CPU (gloo), launched with torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training import load_weights

pytestmark = [pytest.mark.slow, pytest.mark.integration]  # launches two torchrun processes

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_processes_under_torchrun_end_with_identical_weights(episodes_dir, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), str(episodes_dir), str(tmp_path)]
    result = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]

    rank0, rank1 = (load_weights(tmp_path / f"rank-{r}.safetensors") for r in (0, 1))
    saved = load_weights(tmp_path / "checkpoints" / "step-0000004" / "model.safetensors")
    for k in rank0:
        torch.testing.assert_close(rank0[k], rank1[k], rtol=0, atol=0)
        torch.testing.assert_close(rank0[k], saved[k], rtol=0, atol=0)
    assert json.loads((tmp_path / "run.json").read_text())["processes"] == 2
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "step-0000004").glob("rng-*.pt")) == ["rng-0.pt", "rng-1.pt"]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 4  # written by process 0 only


def test_main_process_first_runs_the_main_process_before_the_others(episodes_dir, tmp_path):
    worker = Path(__file__).with_name("main_first_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(worker), str(episodes_dir), str(tmp_path)]
    result = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "order.log").read_text().splitlines() == ["enter 0", "leave 0", "enter 1", "leave 1"]
