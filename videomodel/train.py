"""`dreamplan train autoencoder` and `dreamplan train videomodel` (configs/train/{autoencoder,videomodel}.yaml).

The autoencoder is trained first, on single frames, then calibrated (latent mean/std) and saved to
`<run_dir>/final`; the DiT then trains on clips of its frozen latents. Both run on the one training engine
(training.Trainer): resumable, EMA, DDP under torchrun.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from training import Trainer, TrainConfig
from training.checkpoint import latest_checkpoint
from training.launch import main_process_first, relaunch_under_torchrun
from training.modules import count_parameters
from training.rng import seed_everything
from videomodel.autoencoder import VideoAutoencoder, frames_to_tensor, reconstruction_loss
from videomodel.data import Frames, LatentClips
from videomodel.fidelity import psnr
from videomodel.config import WorldModelConfig
from videomodel.latent_cache import autoencoder_fingerprint
from videomodel.world_model import DiTWorldModel


def _setup(cfg: DictConfig) -> TrainConfig:
    relaunch_under_torchrun(int(cfg.trainer.devices))
    train_cfg = TrainConfig.from_dict(OmegaConf.to_container(cfg.trainer, resolve=True))
    seed_everything(train_cfg.seed)
    return train_cfg


def _autoencoder_loss(model, batch, foreground_weight: float):
    return reconstruction_loss(model, batch["frames"], foreground_weight, weighted=batch["weighted"])


def held_out_psnr(model, frames: np.ndarray) -> dict[str, float]:
    with torch.inference_mode():
        x = frames_to_tensor(frames)
        return {"val_psnr": psnr(model(x)[0].float().clamp(-1, 1), x)}


def train_autoencoder(cfg: DictConfig) -> None:
    train_cfg = _setup(cfg)
    model = instantiate(cfg.model)
    data = Frames(cfg.data, every=cfg.frame_every, weighted_pixels=cfg.weighted_pixels)
    val = Frames(cfg.val_data, every=7).frames[:512] if cfg.val_data else data.frames[::97][:512]
    print(f"autoencoder: {count_parameters(model):,} parameters, {len(data):,} frames")
    loss = functools.partial(_autoencoder_loss, foreground_weight=cfg.foreground_weight)
    trainer = Trainer(model, model.config, data, loss, train_cfg, cfg.run_dir,
                      evaluate=functools.partial(held_out_psnr, frames=val))
    trainer.fit()
    if trainer.accelerator.is_main_process:
        final = VideoAutoencoder.from_pretrained(cfg.run_dir)
        final.calibrate(data.frames[:: max(1, len(data) // 4000)])
        out = final.save(f"{cfg.run_dir}/final")
        print(f"calibrated autoencoder: {out} (held-out PSNR {held_out_psnr(final, val)['val_psnr']:.1f} dB)")


def _dit_loss(model, batch):
    return model(latents=batch["latents"], texts=list(batch["text"]), foreground=batch["foreground"]), {}


def _with_text_tokens(model: DiTWorldModel) -> DiTWorldModel:
    """The same world model with (new, identity-at-start) cross-attention to the subgoal's token states."""
    grown = DiTWorldModel(model.config.replace(dit={"text_tokens": True}), text_encoder=model.text_encoder)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    new = ("cross_attn", "norm_cross", "text_token_proj", "null_text_token")
    if unexpected or not all(any(part in key for part in new) for key in missing):
        raise ValueError(f"cannot add text-token cross-attention: missing {missing}, unexpected {unexpected}")
    return grown


def _initial_model(cfg: DictConfig, model_cfg: dict) -> DiTWorldModel:
    """What training starts from: a saved world model (`init_from`, EMA weights, fresh optimizer, the config's
    objective settings), else a new DiT on the trained autoencoder. On resume the trainer then restores every
    weight over it."""
    if cfg.init_from:
        model = DiTWorldModel.from_pretrained(cfg.init_from, objective=model_cfg["objective"],
                                              **{k: model_cfg.get(k) for k in ("horizon", "frame_stride", "image_size")})
        # the frozen autoencoder comes with the model; the DiT the config asks for must be the one saved (its
        # sizes, whatever its variant is called, and p_uncond), but for cross-attention to the text's tokens,
        # which may be added (its layers start as the identity)
        want = WorldModelConfig.from_dict(model_cfg)
        saved = model.config.dit

        def fixed(dit):  # what must match
            return {**dit.architecture(), "p_uncond": dit.p_uncond, "text_tokens": None}

        if fixed(want.dit) != fixed(saved) or (saved.text_tokens and not want.dit.text_tokens):
            raise ValueError(f"init_from={cfg.init_from} was trained with dit={saved.to_dict()}, the config "
                             f"asks for {want.dit.to_dict()}")
        if want.dit.text_tokens and not saved.text_tokens:
            model = _with_text_tokens(model)
        # what the DiT generates may change: the saved weights are then only a starting point
        model.predict_change = model.config.predict_change = want.predict_change
        return model.train()
    if latest_checkpoint(cfg.run_dir) is None:
        return DiTWorldModel.from_autoencoder(cfg.autoencoder, **model_cfg)
    autoencoder = VideoAutoencoder.from_pretrained(cfg.autoencoder)
    model = DiTWorldModel(**{**model_cfg, "autoencoder": autoencoder.config.to_dict()})
    model.autoencoder.load_state_dict(autoencoder.state_dict())
    return model


def train_videomodel(cfg: DictConfig) -> None:
    train_cfg = _setup(cfg)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    model_cfg.pop("_target_", None)
    model_cfg.pop("_convert_", None)
    model = _initial_model(cfg, model_cfg)
    cache = None
    if cfg.latent_cache:  # the cache holds the weighted cells too: one file per autoencoder and mask
        mask = "" if cfg.weighted_pixels == "foreground" else f"-{cfg.weighted_pixels}"
        cache = Path(cfg.latent_cache) / f"{autoencoder_fingerprint(model.autoencoder)}{mask}.safetensors"
    with main_process_first():  # the main process encodes the frames (or reads the cache); the others read its cache
        clips = LatentClips(cfg.data, model.encode_frames, horizon=model.horizon, stride=model.frame_stride,
                            paraphrase_prob=cfg.paraphrase_prob, past_end=cfg.clips_past_end, cache_file=cache,
                            weighted_pixels=cfg.weighted_pixels)
    model.embed_texts(clips.all_texts())  # fill the text cache once, before any DataLoader worker forks
    foreground = float(torch.cat([f.flatten() for f in clips.foreground]).float().mean())
    print(f"video DiT: {count_parameters(model.dit):,} parameters, {len(clips):,} clips from {cfg.data}; "
          f"{foreground:.0%} of latent cells {cfg.weighted_pixels} (weighted {model.objective.foreground_weight:g}x)")
    final = Trainer(model, model.config, clips, _dit_loss, train_cfg, cfg.run_dir).fit()
    print(f"checkpoint: {final}")
