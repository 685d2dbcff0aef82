"""dreamplan eval as a resumable job: one file per finished episode, re-runs skip them, another config in the same
out is refused, and a dying or overlong worker episode is recorded (crashed / timeout) instead of hanging the eval."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dreamplan.cli import main

BASE = 1_000_000  # tabletop suites' seed_base: episode i runs seed BASE + i
CHEAP = ["eval", "agent=expert", "tasks=[push_to_center]", "videos=false", "attribute=false"]
HERE = Path(__file__).parent
REPO = HERE.parents[1]


def _episode_files(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((out / "episodes").glob("*.json"))}


def _info(out: Path) -> dict:
    return json.loads((out / "eval_info.json").read_text())


def _outcomes(info: dict) -> list:
    return [{k: v for k, v in ep.items() if k not in ("wall_s", "timings")} for ep in info["episodes"]]


@pytest.mark.integration
def test_a_rerun_runs_no_episode_and_a_deleted_one_is_run_again(tmp_path):
    out = tmp_path / "run"
    args = [*CHEAP, "episodes=3", "workers=1", f"out={out}"]
    assert main(args) == 0
    first, files = _info(out), _episode_files(out)
    assert sorted(files) == [f"push_to_center-train-{BASE + i}.json" for i in range(3)]
    assert json.loads((out / "job.json").read_text())["config_hash"] == first["config_hash"]
    assert all(json.loads((out / "episodes" / f).read_text())["config_hash"] == first["config_hash"] for f in files)

    assert main(args) == 0  # the same command again: nothing left to run
    assert _episode_files(out) == files
    assert _info(out)["episodes"] == first["episodes"]

    (out / "episodes" / f"push_to_center-train-{BASE + 1}.json").unlink()
    assert main(args) == 0  # only the deleted episode runs again
    again = _episode_files(out)
    assert {k: v for k, v in again.items() if str(BASE + 1) not in k} == {k: v for k, v in files.items() if str(BASE + 1) not in k}
    assert again[f"push_to_center-train-{BASE + 1}.json"] != files[f"push_to_center-train-{BASE + 1}.json"]
    info = _info(out)
    assert _outcomes(info) == _outcomes(first) and info["summary"]["all"]["successes"] == 3
    assert [ep["seed"] for ep in info["episodes"]] == [BASE, BASE + 1, BASE + 2]


@pytest.mark.integration
def test_more_episodes_extend_a_run_and_other_workers_resume_it(tmp_path):
    out = tmp_path / "run"
    assert main([*CHEAP, "episodes=1", "workers=1", f"out={out}"]) == 0
    files = _episode_files(out)
    assert main([*CHEAP, "episodes=2", "workers=2", f"out={out}"]) == 0  # unhashed keys: the same job, extended
    assert _episode_files(out)[next(iter(files))] == next(iter(files.values()))
    info = _info(out)
    assert [ep["seed"] for ep in info["episodes"]] == [BASE, BASE + 1] and info["summary"]["all"]["episodes"] == 2


@pytest.mark.integration
def test_another_config_in_the_same_out_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*CHEAP, "episodes=1", "workers=1", f"out={out}"]) == 0
    capsys.readouterr()
    assert main([*CHEAP, "episodes=1", "workers=1", "agent=imagine", "planner=scripted", "videomodel=oracle",
                 f"out={out}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dreamplan: error:") and str(out) in err
    assert "different config" in err


def _eval_subprocess(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH", "")]),
               MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "dreamplan.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.integration
def test_a_killed_worker_is_retried_once_then_recorded_as_crashed(tmp_path):
    out, markers = tmp_path / "run", tmp_path / "attempts"
    done = _eval_subprocess([*CHEAP, "episodes=3", "workers=2", "agent._target_=crash_agent.CrashingAgent",
                             f"+agent.crash_seed={BASE + 1}", f"+agent.marker_dir={markers}", f"out={out}"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list(markers.iterdir())) == 2  # the first attempt and one retry, each in its own (killed) process
    episodes = {ep["seed"]: ep for ep in _info(out)["episodes"]}
    crashed = episodes[BASE + 1]
    assert crashed["outcome"] == "crashed" and not crashed["success"] and crashed["attempts"] == 2
    assert crashed["failure"].startswith("worker died:") and "SIGKILL" in crashed["failure"]
    assert episodes[BASE]["success"] and episodes[BASE + 2]["success"]
    assert "outcome" not in episodes[BASE]
    assert _info(out)["summary"]["all"]["successes"] == 2


@pytest.mark.slow
@pytest.mark.integration
def test_an_episode_past_its_timeout_is_recorded_as_timeout(tmp_path):
    out = tmp_path / "run"
    done = _eval_subprocess([*CHEAP, "episodes=2", "workers=2", "episode_timeout=5",
                             "agent._target_=crash_agent.CrashingAgent", f"+agent.sleep_seed={BASE}",
                             "+agent.sleep_s=600", f"out={out}"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = _info(out)["episodes"]
    assert first["outcome"] == "timeout" and not first["success"] and first["failure"] == "timed out after 5 s"
    assert second["success"]


@pytest.mark.integration
def test_each_episode_record_holds_its_scene_which_run_can_replay(tmp_path):
    from dreamplan.scenes import load_scene
    from sim.env import TabletopEnv

    out = tmp_path / "run"
    assert main([*CHEAP, "episodes=1", "workers=1", f"out={out}"]) == 0
    record = out / "episodes" / f"push_to_center-train-{BASE}.json"
    env = TabletopEnv()
    try:
        first, _ = env.reset(seed=BASE, options={"task": "push_to_center", "split": "train"})
        replay, _ = env.reset(seed=7, options=load_scene(record))
    finally:
        env.close()
    assert (first["image"] == replay["image"]).all()
