"""The one training engine: seeded, resumable, atomic checkpoints, one CPU process or many under torchrun/DDP.

    trainer = Trainer(model, model_config, dataset, loss_fn, TrainConfig(steps=1000), run_dir="runs/x")
    checkpoint_dir = trainer.fit()   # resumes by itself when run_dir already holds a checkpoint
"""

from training.checkpoint import CheckpointError, latest_checkpoint, load_weights, read_checkpoint_config
from training.config import TrainConfig
from training.trainer import Trainer

__all__ = ["Trainer", "TrainConfig", "CheckpointError", "latest_checkpoint", "load_weights", "read_checkpoint_config"]
