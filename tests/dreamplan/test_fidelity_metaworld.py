"""`dreamplan fidelity` on Meta-World: imagined clips vs the true future, beside the still baseline (real MuJoCo)."""

import json
import math

import numpy as np
import pytest

from dreamplan.cli import main
from dreamplan.fidelity_metaworld import (ORACLE, STILL, MetaWorldCase, fidelity_cases, measure,
                                          start_state, summarize)
from sim.metaworld.env import MetaWorldEnv
from sim.metaworld.oracle import MetaWorldOracle
from sim.metaworld.segmentation import PartSegmenter
from videomodel.fidelity import MOVE_THRESHOLD

pytestmark = pytest.mark.metaworld  # skipped without the extra (tests/conftest.py)


@pytest.fixture(scope="module")
def env():
    e = MetaWorldEnv("door-open", image_size=64)
    yield e
    e.close()


def test_cases_cover_tasks_cameras_seeds_and_starts():
    cases = fidelity_cases(["door-open", "hammer"], ["corner", "corner3"], 2, 0, 24)
    assert len(cases) == 2 * 2 * 2 * 2 and {c.start_step for c in cases} == {0, 24}
    assert {c.seed for c in cases} == {0, 1} and len({c.sample_seed for c in cases}) == len(cases)
    assert MetaWorldCase("door-open", "corner", 0, 0).sample_seed == cases[0].sample_seed  # fixed by the case
    assert {c.start_step for c in fidelity_cases(["door-open"], ["corner"], 1, 0, 0)} == {0}


def test_true_future_scores_perfectly_and_the_still_frame_fails_where_things_move(env):
    """The model under test is MetaWorldOracle itself: its clip is the true future, so every PSNR is infinite and
    the parts are always shown. The still frame shows no moved part, and its error lies in the moving pixels:
    outside them it is within MOVE_THRESHOLD of the truth in every channel, by the mask's definition."""
    model, oracle, segmenter = MetaWorldOracle(4, 8), MetaWorldOracle(4, 8), PartSegmenter()
    try:
        records = [measure(env, model, oracle, segmenter, MetaWorldCase("door-open", "corner2", 3, s), "oracle model")
                   for s in (0, 24)]
    finally:
        for c in (model, oracle, segmenter):
            c.close()
    r = records[1]
    assert r["start_step"] == 24 and r["pixels"]["moving"] > 50
    assert all(n > 0 for n in r["pixels"]["gripper"]) and all(n > 0 for n in r["pixels"]["object"])
    for name in ("oracle model", ORACLE):
        assert all(v == 0.0 for region in r["models"][name]["mse"].values() for v in region)
        shown = np.array(r["models"][name]["shown"]["gripper"])
        assert (shown[~np.isnan(shown)] == 1).all() and (~np.isnan(shown)).sum() >= 2  # the gripper moves
    summary = summarize(records)
    assert set(summary) == {"door-open", "all", "all, corner2", "all, from step 0", "all, from step 24"}
    best, still = summary["all"]["oracle model"], summary["all"][STILL]
    assert best["frame_psnr_db"] == best["moving_psnr_db"] == best["gripper_psnr_db"] == math.inf
    assert best["gripper_shown"] == 1.0 and best["object_shown"] == 1.0 and best["object_frames_judged"] > 0
    assert still["gripper_shown"] == 0.0 and still["object_shown"] == 0.0
    assert still["moving_psnr_db"] < still["frame_psnr_db"] < 40
    # the still frame is the start frame: away from the moving pixels it is right up to the threshold
    image = start_state(env, MetaWorldCase("door-open", "corner2", 3, 24))
    moving_mse = np.array(r["models"][STILL]["mse"]["moving"])
    frame_mse = np.array(r["models"][STILL]["mse"]["frame"])
    outside = (frame_mse * image.shape[0] * image.shape[1] - moving_mse * r["pixels"]["moving"]) / (
        image.shape[0] * image.shape[1] - r["pixels"]["moving"])
    assert (outside <= MOVE_THRESHOLD**2 + 1e-9).all() and (moving_mse > 10 * outside).all()


def test_dreamplan_fidelity_metaworld_writes_its_table(tmp_path, capsys):
    out = tmp_path / "fid"
    args = ["fidelity", "env=metaworld", "suite=metaworld", "videomodel=metaworld_oracle", "tasks=[handle-press]",
            "splits=[corner3]", "episodes=1", f"out={out}"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| handle-press | MetaWorldOracle | 2 | ∞ | ∞ | ∞ | ∞ | 100% |" in printed
    assert f"wrote {out}/fidelity.json, fidelity.md" in printed
    document = json.loads((out / "fidelity.json").read_text())
    assert document["horizon"] == 4 and document["frame_stride"] == 8 and len(document["clips"]) == 2
    assert document["config"]["videomodel"]["_target_"] == "sim.metaworld.oracle.MetaWorldOracle"
    assert "invdyn" not in document["config"] and "agent" not in document["config"]
    assert [c["start_step"] for c in document["clips"]] == [0, 24] and document["clips"][0]["camera"] == "corner3"
    assert document["summary"]["all"][STILL]["moving_psnr_db"] < 30
    assert "| all | still | 2 |" in (out / "fidelity.md").read_text()
    assert main(["fidelity", "env=metaworld", "suite=tabletop", f"out={out}"]) == 2
    assert "env=metaworld takes suite=metaworld" in capsys.readouterr().err
    assert main(["fidelity", "env=metaworld", "suite=metaworld", "splits=[top]", f"out={out}"]) == 2
    assert "unknown camera 'top'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.integration
def test_shipped_world_model_fidelity_beats_the_still_frame(tmp_path, capsys):
    """checkpoints/metaworld-videomodel under `dreamplan fidelity`: on the pixels that move, its clips are nearer the
    true future than the start frame held still, and it shows moved objects where they truly are."""
    out = tmp_path / "dit"
    assert main(["fidelity", "env=metaworld", "suite=metaworld", "videomodel=dit_metaworld",
                 "tasks=[door-open,button-press,faucet-open]", "splits=[corner]", "episodes=1", f"out={out}"]) == 0
    summary = json.loads((out / "fidelity.json").read_text())["summary"]["all"]
    dit, still = summary["DiTWorldModel"], summary[STILL]
    assert dit["moving_psnr_db"] > still["moving_psnr_db"] + 1.0, (dit, still)
    assert dit["object_shown"] > 0.25 and still["object_shown"] == 0.0, (dit, still)
