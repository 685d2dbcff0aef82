"""`dreamplan train invdyn` end to end on real episodes, and the one-step action error."""

import json

import numpy as np
import pytest

from invdyn.data import FramePairs
from invdyn.evaluate import action_error
from invdyn.model import InverseDynamicsCNN
from dreamplan.cli import main


def test_train_command_trains_checkpoints_and_resumes(episodes_dir, tmp_path, capsys):
    run = tmp_path / "run"

    def train(steps):
        return main(["train", "invdyn", f"data={episodes_dir}", f"val_data={episodes_dir}", "val_windows=64",
                     f"run_dir={run}", "model.image_size=32", "model.width=4", "model.hidden=16", "model.frame_stride=2",
                     f"trainer.steps={steps}", "trainer.batch_size=8", "trainer.checkpoint_every=3", "trainer.log_every=3"])

    assert train(6) == 0
    assert "step-0000006" in capsys.readouterr().out
    assert "reverse_prob" in (run / "train_config.yaml").read_text()
    assert json.loads((run / "checkpoints" / "step-0000006" / "eval.json").read_text())["windows"] == 64
    assert train(9) == 0  # train for longer: resumes at step 6
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [3, 6, 9]
    model = InverseDynamicsCNN.from_pretrained(run)  # the run dir's latest checkpoint
    assert model.frame_stride == 2 and model.actions(np.zeros((3, 32, 32, 3), np.uint8)).shape == (4, 2)


def test_train_command_reports_a_size_mismatch_in_one_line(episodes_dir, tmp_path, capsys):
    assert main(["train", "invdyn", f"data={episodes_dir}", f"run_dir={tmp_path}", "model.image_size=64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dreamplan: error:") and "32px" in err and "\n" not in err


def test_train_command_names_an_action_dimension_mismatch(episodes_dir, tmp_path, capsys):
    assert main(["train", "invdyn", f"data={episodes_dir}", f"run_dir={tmp_path}", "model.image_size=32",
                 "model.action_dim=4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "2-D actions" in err and "model.action_dim=4" in err and "\n" not in err


def test_action_error_is_reported_in_action_units_and_metres(episodes_dir):
    pairs = FramePairs(episodes_dir, stride=1)
    model = InverseDynamicsCNN(frame_stride=1, image_size=32, width=4, hidden=16)
    err = action_error(model, pairs, max_windows=50)
    assert err["windows"] == 50 and err["mse"] > 0 and err["net_mae_m"] > 0
    assert err["mae_m"] == pytest.approx(err["mae"] * 0.02)
