"""`dreamplan train bc`: fit the language-conditioned behaviour-cloning baseline (configs/train/bc.yaml)."""

from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dreamplan.bc import BCWindows, bc_loss
from training import Trainer, TrainConfig
from training.launch import relaunch_under_torchrun
from training.rng import seed_everything


def main(cfg: DictConfig) -> None:
    relaunch_under_torchrun(int(cfg.trainer.devices))
    train_cfg = TrainConfig.from_dict(OmegaConf.to_container(cfg.trainer, resolve=True))
    seed_everything(train_cfg.seed)
    model = instantiate(cfg.model)
    windows = BCWindows(cfg.data, chunk=model.chunk, embed=instantiate(cfg.text_encoder).embed)
    print(f"behaviour cloning: {sum(p.numel() for p in model.parameters()):,} parameters, {len(windows):,} steps from {cfg.data}")
    final = Trainer(model, model.config, windows, bc_loss, train_cfg, cfg.run_dir).fit()
    print(f"checkpoint: {final}")
