"""configs/train/*.yaml share one trainer base (configs/train/trainer/base.yaml) and set only what differs."""

from dataclasses import fields
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dreamplan.cli import compose
from training import TrainConfig

TRAIN = Path(__file__).resolve().parents[2] / "configs" / "train"
NAMES = sorted(p.stem for p in TRAIN.glob("*.yaml"))


def test_every_train_config_is_checked():
    assert set(NAMES) >= {"autoencoder", "bc", "invdyn", "planner", "videomodel"}


@pytest.mark.parametrize("name", NAMES)
def test_each_train_config_extends_the_trainer_base_with_only_what_differs(name):
    own = OmegaConf.load(TRAIN / f"{name}.yaml")
    assert {"/train/trainer@trainer": "base"} in OmegaConf.to_container(own)["defaults"]
    base = OmegaConf.to_container(OmegaConf.load(TRAIN / "trainer" / "base.yaml"))
    repeated = {k: v for k, v in OmegaConf.to_container(own.trainer).items() if base.get(k) == v}
    assert not repeated, f"configs/train/{name}.yaml repeats the base's {repeated}"
    composed = compose(f"train/{name}", [])
    trainer = OmegaConf.to_container(composed.trainer, resolve=True, throw_on_missing=True)
    assert set(trainer) == {f.name for f in fields(TrainConfig)}
    assert TrainConfig.from_dict(trainer).steps == own.trainer.steps  # steps (and batch_size) are each config's own
