"""The training engine on a tiny real model and real recorded episodes."""

import functools
import json
import os
import signal

import pytest
import torch

from invdyn.augment import Augment
from invdyn.data import FramePairs
from invdyn.model import InverseDynamicsCNN
from invdyn.train import masked_action_loss
from training import CheckpointError, Trainer, TrainConfig, latest_checkpoint, load_weights
from training.checkpoint import load_tensors
from training.rng import seed_everything
from training.sampler import StepBatchSampler

LOSS = functools.partial(masked_action_loss, augment=Augment())


@pytest.fixture(scope="module")
def pairs(episodes_dir):
    return FramePairs(episodes_dir, stride=1)


def make_trainer(run_dir, pairs, steps, *, init_seed=0, width=4, loss_fn=LOSS, **train):
    seed_everything(init_seed)
    model = InverseDynamicsCNN(frame_stride=1, image_size=32, width=width, hidden=32)
    config = TrainConfig(**{"steps": steps, "batch_size": 8, "lr": 3e-3, "checkpoint_every": 100, "log_every": 1, **train})
    return Trainer(model, model.config, pairs, loss_fn, config, run_dir)


def logged_losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def test_training_reduces_the_loss(pairs, tmp_path):
    final = make_trainer(tmp_path, pairs, steps=40, loss_fn=masked_action_loss, batch_size=16).fit()
    losses = logged_losses(tmp_path)
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert final == tmp_path / "checkpoints" / "step-0000040"
    assert json.loads((tmp_path / "run.json").read_text())["seed"] == 0
    config = json.loads((final / "config.json").read_text())
    assert config["step"] == 40 and config["model"]["width"] == 4 and config["train"]["batch_size"] == 16


def test_interrupted_run_resumes_to_the_same_weights(pairs, tmp_path):
    opts = dict(ema_decay=0.9, grad_clip=0.5, warmup_steps=3)
    straight = make_trainer(tmp_path / "straight", pairs, steps=10, **opts).fit()

    calls = 0

    def interrupted(model, batch):
        nonlocal calls
        calls += 1
        if calls == 6:  # Ctrl-C in the middle of step 6: the step finishes, a checkpoint is saved, then it stops
            os.kill(os.getpid(), signal.SIGINT)
        return LOSS(model, batch)

    with pytest.raises(KeyboardInterrupt):
        make_trainer(tmp_path / "resumed", pairs, steps=10, loss_fn=interrupted, **opts).fit()
    assert latest_checkpoint(tmp_path / "resumed").name == "step-0000006"
    # a differently initialised model: everything must come from the checkpoint
    resumed = make_trainer(tmp_path / "resumed", pairs, steps=10, init_seed=123, **opts).fit()

    assert resumed.name == straight.name == "step-0000010"
    for name in ("model.safetensors", "ema.safetensors"):
        a, b = load_weights(straight / name), load_weights(resumed / name)
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    sa, sb = load_tensors(straight / "training_state.pt"), load_tensors(resumed / "training_state.pt")
    assert sa["step"] == sb["step"] == 10 and sa["scheduler"] == sb["scheduler"]
    for i, state in sa["optimizer"]["state"].items():
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(state[key], sb["optimizer"]["state"][i][key], rtol=1e-5, atol=1e-7)


def test_finished_run_is_not_retrained_and_can_be_extended(pairs, tmp_path):
    first = make_trainer(tmp_path, pairs, steps=4, lr=1e-3).fit()
    assert make_trainer(tmp_path, pairs, steps=4, lr=1e-3).fit() == first
    assert make_trainer(tmp_path, pairs, steps=6, lr=1e-3).fit().name == "step-0000006"
    assert len(logged_losses(tmp_path)) == 6


def test_config_mismatch_is_refused_in_one_line(pairs, tmp_path):
    make_trainer(tmp_path, pairs, steps=2).fit()
    with pytest.raises(CheckpointError) as e:
        make_trainer(tmp_path, pairs, steps=4, width=8).fit()
    assert "model.width: 4 -> 8" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(CheckpointError, match="train.lr"):
        make_trainer(tmp_path, pairs, steps=4, lr=0.1).fit()


def test_precision_may_change_when_resuming(pairs, tmp_path):
    """Weights and optimizer state are float32 under any autocast: a bf16 run resumes in fp32 (or "auto")."""
    make_trainer(tmp_path, pairs, steps=2, mixed_precision="bf16").fit()
    assert make_trainer(tmp_path, pairs, steps=3, mixed_precision="no").fit().name == "step-0000003"
    assert make_trainer(tmp_path, pairs, steps=4, mixed_precision="auto").fit().name == "step-0000004"


@pytest.mark.parametrize("victim", ["model.safetensors", "training_state.pt", "config.json"])
def test_corrupt_checkpoint_is_a_one_line_error(pairs, tmp_path, victim):
    final = make_trainer(tmp_path, pairs, steps=2).fit()
    path = final / victim
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(CheckpointError) as e:
        make_trainer(tmp_path, pairs, steps=4).fit()
    assert victim in str(e.value) and "\n" not in str(e.value)


def test_bf16_autocast_on_cpu(pairs, tmp_path):
    trainer = make_trainer(tmp_path, pairs, steps=3, mixed_precision="bf16")
    dtypes = []
    trainer.model.encoder[0][0].register_forward_hook(lambda module, inputs, out: dtypes.append(out.dtype))
    trainer.fit()
    assert dtypes == [torch.bfloat16] * 3  # the convs run in bf16 ...
    weights = load_weights(latest_checkpoint(tmp_path) / "model.safetensors")
    assert all(v.dtype == torch.float32 for v in weights.values())  # ... the weights stay float32


def test_batches_depend_only_on_seed_and_step():
    whole = list(StepBatchSampler(10, 4, seed=1, start_step=0, end_step=6))
    assert list(StepBatchSampler(10, 4, seed=1, start_step=3, end_step=6)) == whole[3:]
    flat = [i for b in whole[:5] for i in b]  # 20 draws = two full shuffled passes over 10 items
    assert sorted(flat[:10]) == sorted(flat[10:]) == list(range(10))
    ranks = [list(StepBatchSampler(10, 2, seed=1, start_step=0, end_step=5, rank=r, world=2)) for r in (0, 1)]
    assert [a + b for a, b in zip(*ranks)] == list(StepBatchSampler(10, 4, seed=1, start_step=0, end_step=5))
