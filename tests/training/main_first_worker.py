"""Run by test_distributed.py under torchrun: each process logs entering and leaving a main_process_first block,
then builds a Trainer (whose Accelerator must accept the distributed state the block set up)."""

import os
import sys
import time
from pathlib import Path

from invdyn.data import FramePairs
from invdyn.model import InverseDynamicsCNN
from invdyn.train import masked_action_loss
from training import Trainer, TrainConfig
from training.launch import main_process_first


def main(data: str, out: str) -> None:
    rank = os.environ["RANK"]
    log = Path(out) / "order.log"
    with main_process_first():
        with open(log, "a") as f:
            f.write(f"enter {rank}\n")
        time.sleep(1.0 if rank == "0" else 0.0)  # the main process is slow: the others must still wait for it
        with open(log, "a") as f:
            f.write(f"leave {rank}\n")
    model = InverseDynamicsCNN(frame_stride=1, image_size=32, width=4, hidden=32)
    Trainer(model, model.config, FramePairs(data, stride=1), masked_action_loss,
            TrainConfig(steps=1, batch_size=2, log_every=1), Path(out) / "run").fit()


if __name__ == "__main__":
    main(*sys.argv[1:3])
