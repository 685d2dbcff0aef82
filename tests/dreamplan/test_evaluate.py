import json

import pytest

from dreamplan.cli import compose, main
from dreamplan.evaluate import worker_state, select_tasks, wilson_interval
from sim.errors import DreamplanError


def test_wilson_interval_matches_known_values():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.490, abs=1e-3) and hi == pytest.approx(0.943, abs=1e-3)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0


def test_suites_are_a_config_group_and_tasks_pick_from_them(capsys):
    from sim.tasks import LONG_HORIZON, SINGLE_STEP, TASKS

    suites = {name: compose("eval", [f"suite={name}"]).suite
              for name in ("tabletop-single", "tabletop-long", "tabletop")}
    assert tuple(suites["tabletop-single"].tasks) == SINGLE_STEP
    assert tuple(suites["tabletop-long"].tasks) == LONG_HORIZON
    assert list(suites["tabletop"].tasks) == list(TASKS)
    suite = dict(suites["tabletop-long"])
    assert select_tasks(suite, None) == list(LONG_HORIZON) and select_tasks(suite, ["make_line"]) == ["make_line"]
    with pytest.raises(DreamplanError, match="task 'push_to_center' is not in suite 'tabletop-long'"):
        select_tasks(suite, ["push_to_center"])
    assert main(["eval", "suite=tabletop-huge"]) == 2
    assert "(options: metaworld, tabletop, tabletop-long, tabletop-single)" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.integration
def test_eval_command_writes_table_json_and_videos(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["eval", "tasks=[push_to_center]", "splits=[train,paraphrase]", "episodes=2", "workers=2",
                 "videomodel=oracle", f"out={out}"])  # the oracle: fast; the defaults imagine with the DiT
    assert code == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert len(info["episodes"]) == 4 and info["seeds"] == [1_000_000, 1_000_001]
    assert set(info["summary"]) == {"push_to_center/train", "push_to_center/paraphrase", "all"}
    assert info["config"]["agent"]["_target_"] == "dreamplan.agent.ImaginationAgent"
    for ep in info["episodes"]:
        assert (out / ep["video"]).stat().st_size > 1000
        assert ep["decisions"] >= 1
    decisions = sum(ep["decisions"] for ep in info["episodes"])
    spent = sum(ep["timings"][c] for ep in info["episodes"] for c in ("imagine", "invdyn", "score"))
    assert info["summary"]["all"]["seconds_per_decision"] == pytest.approx(spent / decisions)
    table = (out / "results.md").read_text()
    assert "push_to_center/paraphrase" in table and "95 % CI" in table
    assert "push_to_center/train" in capsys.readouterr().out


@pytest.mark.integration
def test_eval_expert_baseline_without_videos(tmp_path):
    out = tmp_path / "expert"
    assert main(["eval", "agent=expert", "suite=tabletop-long", "tasks=[order_three]", "episodes=2", "workers=1", "videos=false", f"out={out}"]) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert info["summary"]["all"]["success_rate"] == 1.0 and not (out / "videos").exists()
    assert "seconds_per_decision" not in info["summary"]["all"]  # the expert imagines nothing
    assert not worker_state  # the in-process run closed its env and agent


@pytest.mark.integration
def test_attribution_drops_the_overrides_of_the_component_it_swaps(tmp_path):
    # invdyn.path means nothing to the tracker that stands in for inverse dynamics when a failure is attributed
    out = tmp_path / "short"
    assert main(["eval", "tasks=[push_to_center]", "episodes=1", "workers=1", "videos=false", "planner=scripted",
                 "videomodel=oracle", "invdyn=cnn_pretrained", "invdyn.path=checkpoints/invdyn-k4",
                 "agent.steps_per_subgoal=4", "agent.max_replans=0",
                 f"out={out}"]) == 0
    (episode,) = json.loads((out / "eval_info.json").read_text())["episodes"]
    assert not episode["success"] and set(episode["fixed_by"]) == {"invdyn"}


@pytest.mark.slow
@pytest.mark.integration
def test_a_sampling_world_model_gives_the_same_episodes_on_any_number_of_workers(tmp_path):
    """The episode seed seeds torch too: which worker ran an episode (and what it ran before) changes nothing."""
    args = ["eval", "tasks=[push_to_corner]", "episodes=2", "videos=false", "attribute=false", "planner=scripted",
            "videomodel=dit_pretrained", "agent.steps_per_subgoal=8", "agent.max_replans=0", "agent.min_score=-1e9"]
    runs = []
    for workers in (1, 2):
        assert main([*args, f"workers={workers}", f"out={tmp_path / str(workers)}"]) == 0
        runs.append(json.loads((tmp_path / str(workers) / "eval_info.json").read_text())["episodes"])
    one, two = ([(ep["seed"], ep["final_state"]) for ep in run] for run in runs)
    assert one == two and one[0][1] != one[1][1]
