import subprocess
import sys
from pathlib import Path

import pytest

from dreamplan.cli import main
from sim.dataset import EpisodeStore


def test_record_command_writes_shards(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["record", f"out={out}", "episodes=2", "episodes_per_shard=1", "workers=1",
                 "tasks=[push_to_corner]", "env.image_size=24"])
    assert code == 0
    assert "recorded 2 episodes in 2 shards" in capsys.readouterr().out
    store = EpisodeStore(out)
    assert len(store) == 2 and store.episode(0)["frames"].shape[1:] == (24, 24, 3)


@pytest.mark.slow
@pytest.mark.integration
def test_user_errors_are_one_line(tmp_path):
    cases = [
        (["record", "episodes=abc", f"out={tmp_path}"], "episodes must be an integer"),
        (["record", "tasks=[stack]", f"out={tmp_path}"], "unknown task 'stack'"),
        (["record", "nosuchkey=1"], "bad config or override"),
        (["recrod"], "unknown command 'recrod'"),
    ]
    for args, message in cases:
        proc = subprocess.run([sys.executable, "-m", "dreamplan.cli", *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.startswith("dreamplan:")]
        assert len(lines) == 1 and message in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr


def _dreamplan(args: list[str], cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    """The installed console script (as a user runs it), from `cwd`."""
    script = Path(sys.executable).with_name("dreamplan")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "dreamplan.cli"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("agent", ["expert", "bc"])
def test_run_works_from_any_directory_with_any_agent(tmp_path, agent):
    proc = _dreamplan(["run", "group the blocks by color", f"agent={agent}", "out=run.mp4"], cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr  # 1: the agent did not do the task (bc may not)
    assert (tmp_path / "run.mp4").stat().st_size > 1000
    assert ("success after" if proc.returncode == 0 else "failed:") in proc.stdout
    if agent == "expert":
        assert proc.returncode == 0


@pytest.mark.slow
@pytest.mark.integration
def test_errors_from_inside_a_component_are_one_line(tmp_path):
    proc = _dreamplan(["run", "group the blocks by color", "videomodel.path=no-such-model"], cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dreamplan: error: ") and "no-such-model" in lines[0], proc.stderr


def test_shipped_checkpoints_resolve_from_anywhere_and_user_paths_from_the_cwd(tmp_path, monkeypatch):
    from hydra.utils import instantiate

    from dreamplan.cli import compose
    from dreamplan.paths import CHECKPOINTS
    from training.checkpoint import CheckpointError

    monkeypatch.chdir(tmp_path)
    cfg = compose("run", ["instruction=x", "invdyn=cnn_pretrained"])
    assert cfg.invdyn.path == str(CHECKPOINTS / "invdyn-k4") and instantiate(cfg.invdyn).frame_stride == 4
    (tmp_path / "mine").symlink_to(CHECKPOINTS / "invdyn-k4")
    assert instantiate(compose("run", ["instruction=x", "invdyn=cnn_pretrained", "invdyn.path=mine"]).invdyn)
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(Exception) as e:  # Hydra wraps what the constructor raised
        instantiate(compose("run", ["instruction=x", "invdyn=cnn_pretrained", "invdyn.path=mine"]).invdyn)
    assert isinstance(e.value.__cause__ or e.value, CheckpointError)


@pytest.mark.parametrize("text", ["push the ${oc.env:HOME} cube", "push so that x=1 and y=2", "it's the red one", "a \\${x} b",
                                  "back\\slash ${y}", "ends in a backslash\\", "${a:${b}} $$ ${", "quote\\' here"])
def test_a_bare_instruction_is_taken_literally(text):
    """`dreamplan run TEXT`: no interpolation, no override syntax, whatever the text holds."""
    from dreamplan.cli import _override, compose

    assert compose("run", [_override(text, "instruction")]).instruction == text


@pytest.mark.parametrize("command, target, raised, message", [
    (["run", "push the red block"], "dreamplan.cli._run", KeyboardInterrupt(), "(nothing was saved)"),
    (["eval"], "dreamplan.cli._eval", KeyboardInterrupt(), "(finished episodes are kept; re-run the same command"),
    (["record"], "dreamplan.cli._record", KeyboardInterrupt(), "(complete shards are kept; re-run the same command"),
    (["train", "invdyn"], "invdyn.train.main", KeyboardInterrupt("stopped at step 7; saved runs/x/step-0000007"),
     "(stopped at step 7; saved runs/x/step-0000007; re-run the same command to resume)"),
])
def test_ctrl_c_says_what_was_kept(command, target, raised, message, monkeypatch, capsys):
    def interrupted(cfg, **kw):
        raise raised

    monkeypatch.setattr(target, interrupted)
    assert main(command) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("dreamplan: interrupted ") and message in err and len(err.splitlines()) == 1
