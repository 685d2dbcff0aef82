"""`dreamplan train goal_invdyn`: fit the closed-loop goal-reaching inverse dynamics (invdyn.goal_reaching) on
recorded expert episodes (configs/train/goal_invdyn.yaml). Glue, not invdyn's own: with `goal_frames_from`, part
of the goals it trains on are frames passed through a world model's autoencoder, so it reads goals as the video
model draws them (invdyn may not import videomodel)."""

from __future__ import annotations

import functools

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from invdyn.augment import Augment
from invdyn.data import GoalSteps
from invdyn.train import check_data, goal_step_loss, write_config
from training import Trainer, TrainConfig
from training.launch import relaunch_under_torchrun
from training.modules import count_parameters
from training.rng import seed_everything
from videomodel.autoencoder import frames_to_tensor, tensor_to_frames
from videomodel.world_model import DiTWorldModel


@torch.no_grad()
def decoded_frames(world_model_path: str, episodes: list[np.ndarray], batch_size: int = 256) -> list[np.ndarray]:
    """Each episode's frames as the world model's autoencoder gives them back (encode, then decode)."""
    world = DiTWorldModel.from_pretrained(world_model_path)
    size = episodes[0].shape[1] if episodes else world.image_size
    if world.image_size != size:
        raise ValueError(f"goal_frames_from={world_model_path} draws {world.image_size}px frames, the data holds "
                         f"{size}px")
    autoencoder = world.autoencoder.eval()
    out = []
    for frames in tqdm(episodes, desc="decode goal frames", unit="ep"):
        parts = [tensor_to_frames(autoencoder.decode(autoencoder.encode(frames_to_tensor(frames[i : i + batch_size])))
                                  .clamp(-1, 1)).numpy() for i in range(0, len(frames), batch_size)]
        out.append(np.concatenate(parts))
    return out


def main(cfg: DictConfig) -> None:
    relaunch_under_torchrun(int(cfg.trainer.devices))
    train_cfg = TrainConfig.from_dict(OmegaConf.to_container(cfg.trainer, resolve=True))
    seed_everything(train_cfg.seed)
    model = instantiate(cfg.model)
    steps = GoalSteps(cfg.data, stride=model.frame_stride, proprio_dim=model.config.proprio_dim)
    check_data(steps, model, cfg.data)
    model.set_proprio_statistics(steps.all_proprio())  # a resumed run restores the saved ones over these
    if cfg.goal_frames_from:
        steps.use_goal_frames(decoded_frames(cfg.goal_frames_from, steps.frames), cfg.goal_frames_prob)
    augment = Augment(**cfg.augment) if cfg.augment else None
    trainer = Trainer(model, model.config, steps, functools.partial(goal_step_loss, augment=augment), train_cfg,
                      cfg.run_dir)
    if trainer.accelerator.is_main_process:
        write_config(cfg)
        print(f"goal-reaching inverse dynamics: {count_parameters(model):,} parameters, {len(steps):,} steps "
              f"from {cfg.data}")
    final = trainer.fit()
    if trainer.accelerator.is_main_process:
        print(f"checkpoint: {final}")
