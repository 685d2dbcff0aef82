import subprocess
import sys

from planner.cli import main
from sim.dataset import EpisodeStore


def test_record_command_writes_shards(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["record", f"out={out}", "episodes=2", "episodes_per_shard=1", "workers=1",
                 "tasks=[push_to_corner]", "env.image_size=24"])
    assert code == 0
    assert "recorded 2 episodes in 2 shards" in capsys.readouterr().out
    store = EpisodeStore(out)
    assert len(store) == 2 and store.episode(0)["frames"].shape[1:] == (24, 24, 3)


def test_user_errors_are_one_line(tmp_path):
    cases = [
        (["record", "episodes=abc", f"out={tmp_path}"], "episodes must be an integer"),
        (["record", "tasks=[stack]", f"out={tmp_path}"], "unknown task 'stack'"),
        (["record", "nosuchkey=1"], "bad config or override"),
        (["recrod"], "unknown command 'recrod'"),
    ]
    for args, message in cases:
        proc = subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.startswith("dreamplan:")]
        assert len(lines) == 1 and message in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
