"""Run by test_distributed.py under torchrun: a few DDP steps, then each process dumps its final weights."""

import sys
from pathlib import Path

from safetensors.torch import save_file

from invdyn.data import FramePairs
from invdyn.model import InverseDynamicsCNN
from invdyn.train import masked_action_loss
from training import Trainer, TrainConfig
from training.rng import seed_everything


def main(data: str, run_dir: str) -> None:
    seed_everything(int(__import__("os").environ["RANK"]))  # deliberately different initial weights per process
    model = InverseDynamicsCNN(frame_stride=1, image_size=32, width=4, hidden=32)
    config = TrainConfig(steps=4, batch_size=4, lr=3e-3, checkpoint_every=2, log_every=1)
    trainer = Trainer(model, model.config, FramePairs(data, stride=1), masked_action_loss, config, run_dir)
    trainer.fit()
    acc = trainer.accelerator
    weights = acc.unwrap_model(trainer.model).state_dict()
    save_file({k: v.contiguous() for k, v in weights.items()}, str(Path(run_dir) / f"rank-{acc.process_index}.safetensors"))


if __name__ == "__main__":
    main(*sys.argv[1:3])
