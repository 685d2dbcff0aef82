"""`dreamplan train goal_invdyn`: fit the closed-loop goal-reaching inverse dynamics (invdyn.goal_reaching) on
recorded expert episodes (configs/train/goal_invdyn.yaml). Glue, not invdyn's own: with `goal_frames_from`, part
of the goals it trains on are frames passed through a world model's autoencoder, so it reads goals as the video
model draws them; with `imagined_goals_from`, part are clips the world model imagines from the recorded frames
(invdyn may not import videomodel)."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from invdyn.augment import Augment
from invdyn.data import GoalSteps, ImaginedClips
from invdyn.train import check_data, goal_step_loss, write_config
from training import Trainer, TrainConfig
from training.atomic import atomic_path
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


def imagined_clips(world_model_path: str, steps: GoalSteps, every: int, seed: int,
                   batch_size: int = 64) -> dict[int, ImaginedClips]:
    """A clip imagined by the world model (sampled as it ships) from every `every`-th frame of each reached
    segment, with the segment's text: what the agent would imagine from there."""
    world = DiTWorldModel.from_pretrained(world_model_path)
    if world.frame_stride != steps.stride:
        raise ValueError(f"imagined_goals_from={world_model_path} imagines frames {world.frame_stride} steps apart, "
                         f"the inverse dynamics reads goals {steps.stride} apart")
    starts = [(seg.episode, t, seg.end, seg.text) for seg in steps.segments for t in range(seg.start, seg.end, every)]
    clips = []
    for i in tqdm(range(0, len(starts), batch_size), desc="imagine goal clips", unit="batch"):
        batch = starts[i : i + batch_size]
        images = np.stack([steps.frames[e][t] for e, t, _, _ in batch])
        clips.append(world.imagine_each(images, [text for *_, text in batch], seed=seed + i))
    clips = np.concatenate(clips)
    rows: dict[int, list[int]] = {}
    for j, (e, *_) in enumerate(starts):
        rows.setdefault(e, []).append(j)
    return {e: ImaginedClips(np.array([starts[j][1] for j in js]), np.array([starts[j][2] for j in js]), clips[js])
            for e, js in rows.items()}


def cached_imagined_clips(run_dir: str, world_model_path: str, steps: GoalSteps, every: int,
                          seed: int) -> dict[int, ImaginedClips]:
    """imagined_clips, kept in the run dir under a name that hashes the world model's weights and the data, so a
    resumed run reads them back instead of sampling them again."""
    digest = hashlib.sha1(json.dumps({"every": every, "seed": seed,
                                      "segments": [tuple(s) for s in steps.segments]}).encode())
    for weights in sorted(Path(world_model_path).rglob("*.safetensors")):
        digest.update(weights.read_bytes())
    path = Path(run_dir) / f"imagined-goals-{digest.hexdigest()[:12]}.npz"
    if path.exists():
        with np.load(path) as saved:
            episodes = sorted(int(name.removeprefix("starts_")) for name in saved.files if name.startswith("starts_"))
            return {e: ImaginedClips(saved[f"starts_{e}"], saved[f"ends_{e}"], saved[f"clips_{e}"]) for e in episodes}
    clips = imagined_clips(world_model_path, steps, every, seed)
    with atomic_path(path) as tmp:
        np.savez(tmp, **{f"{field}_{e}": getattr(c, field) for e, c in clips.items()
                         for field in ("starts", "ends", "clips")})
    return clips


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
    if cfg.imagined_goals_from:
        steps.use_imagined(cached_imagined_clips(cfg.run_dir, cfg.imagined_goals_from, steps,
                                                 cfg.imagined_goals_every, train_cfg.seed), cfg.imagined_goals_prob)
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
