"""benchmarks/invdyn_eval.py: closed-loop replay of the expert's future frames runs and scores episodes."""

import importlib.util
from pathlib import Path

from invdyn.model import InverseDynamicsCNN
from invdyn.pusher_tracker import PusherTracker

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "invdyn_eval.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("invdyn_eval", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replay_reports_success_per_task_next_to_the_expert():
    bench = load_benchmark()
    agents = {"tracker": PusherTracker(frame_stride=4),
              "untrained": InverseDynamicsCNN(frame_stride=4, image_size=32, width=4, hidden=16)}
    results = bench.replay_success(agents, ["push_to_center"], episodes=1, seed=0, image_size=32)
    row = results["push_to_center"]
    assert row["seeds"] == [1_000_000]
    assert row["expert"] == 1.0 and row["tracker"] == 1.0  # following the true future with exact tracking succeeds
    assert 0.0 <= row["untrained"] <= 1.0 and row["untrained_steps"] > 0
    assert "| push_to_center | 1.00 | 1.00 |" in bench.table(results, ["expert", "tracker"])
