"""`dreamplan train invdyn`: fit the inverse-dynamics CNN on recorded expert episodes (configs/train/invdyn.yaml).
The closed-loop goal-reaching model's loss is here too; its training run is dreamplan/train_goal_invdyn.py (it shows
the model goals as the video model's autoencoder draws them)."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from invdyn.augment import Augment
from invdyn.data import FramePairs
from invdyn.evaluate import action_error
from training import Trainer, TrainConfig
from training.launch import relaunch_under_torchrun
from training.modules import count_parameters, masked_mse
from training.rng import seed_everything


def reverse_pairs(batch: dict, prob: float) -> dict:
    """Play a random fraction of the pairs backwards: (o_{t+k}, o_t) with the k actions negated in reverse order.
    The expert's next action can often be guessed from the first frame alone; a reversed pair's label cannot,
    so the model must read the motion between the frames (what following imagined frames needs)."""
    flip = torch.rand(len(batch["frames"]), device=batch["frames"].device) < prob
    if not flip.any():
        return batch
    out = dict(batch)
    out["frames"] = torch.where(flip[:, None, None, None, None], batch["frames"].flip(1), batch["frames"])
    out["actions"] = torch.where(flip[:, None, None], -batch["actions"].flip(1), batch["actions"])
    out["action_mask"] = torch.where(flip[:, None], batch["action_mask"].flip(1), batch["action_mask"])
    return out


def masked_action_loss(model: torch.nn.Module, batch: dict, augment: Augment | None = None,
                       reverse_prob: float = 0.0) -> tuple[torch.Tensor, dict]:
    """MSE between predicted and expert actions over the steps `action_mask` marks as real."""
    if reverse_prob:
        batch = reverse_pairs(batch, reverse_prob)
    frames = batch["frames"].float().div_(255)
    if augment is not None:
        frames = augment(frames)
    return masked_mse(model(frames), batch["actions"], batch["action_mask"]), {}


def goal_step_loss(model: torch.nn.Module, batch: dict, augment: Augment | None = None) -> tuple[torch.Tensor, dict]:
    """MSE between the closed-loop model's action and the expert's, per step (invdyn.data.GoalSteps)."""
    frames = batch["frames"].float().div_(255)
    if augment is not None:
        frames = augment(frames)
    err = (model(frames, batch["proprio"], batch["steps_left"], batch["imagined"]).float() - batch["action"]).pow(2)
    per_entry = err.detach().mean(0)  # which action entry the model gets wrong (Meta-World's last: the gripper)
    return err.mean(), {f"action_{i}_mse": float(e) for i, e in enumerate(per_entry)}


def check_data(data, model, path: str) -> None:
    image_size = data.env_config.get("image_size")
    if image_size is not None and int(image_size) != model.image_size:
        raise ValueError(f"{path} holds {image_size}px frames but model.image_size={model.image_size}")
    if data.action_dim != model.action_dim:
        raise ValueError(f"{path} holds {data.action_dim}-D actions but model.action_dim={model.action_dim}")


def write_config(cfg: DictConfig) -> None:
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "train_config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))  # data, augmentation, ...


def main(cfg: DictConfig) -> None:
    relaunch_under_torchrun(int(cfg.trainer.devices))
    train_cfg = TrainConfig.from_dict(OmegaConf.to_container(cfg.trainer, resolve=True))
    seed_everything(train_cfg.seed)
    model = instantiate(cfg.model)
    pairs = FramePairs(cfg.data, stride=model.frame_stride, context=model.context)
    check_data(pairs, model, cfg.data)
    evaluate = None
    if cfg.val_data:
        val = FramePairs(cfg.val_data, stride=model.frame_stride, context=model.context)
        evaluate = functools.partial(action_error, pairs=val, max_windows=cfg.val_windows)
    augment = Augment(**cfg.augment) if cfg.augment else None
    if cfg.reverse_prob and model.context:
        raise ValueError("reverse_prob needs model.context=0 (earlier frames have no meaning for a reversed pair)")
    loss = functools.partial(masked_action_loss, augment=augment, reverse_prob=cfg.reverse_prob)
    trainer = Trainer(model, model.config, pairs, loss, train_cfg, cfg.run_dir, evaluate=evaluate)
    if trainer.accelerator.is_main_process:
        write_config(cfg)
        print(f"inverse dynamics: {count_parameters(model):,} parameters, {len(pairs):,} training windows from {cfg.data}")
    final = trainer.fit()
    if trainer.accelerator.is_main_process:
        print(f"checkpoint: {final}")
