"""benchmarks/invdyn_eval.py: closed-loop replay of the expert's future frames scores inverse dynamics.

Two stand-in "models" bound what the replay can report: one that returns exactly the actions the expert took to
reach the future frame (it must solve every episode, as the expert does, and the real frames must follow the
imagined ones exactly), and one that never moves (it must solve none, and run out the step budget). A broken
look-ahead (stale snapshot, wrong future frame, actions not executed or not counted) fails one of them."""

import importlib.util
from pathlib import Path

import numpy as np

from invdyn.pusher_tracker import PusherTracker
from sim.env import TabletopEnv
from sim.record import run_expert_episode
from sim.tasks import EVAL_SEED_BASE

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "invdyn_eval.py"
TASK, EPISODES, SIZE, K = "push_to_center", 2, 32, 4


def load_benchmark():
    spec = importlib.util.spec_from_file_location("invdyn_eval", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LookaheadRecorder(TabletopEnv):
    """A TabletopEnv that remembers the actions stepped since its last restore(): on the look-ahead copy, the
    expert's k actions to the future frame the model is shown."""

    since_restore: list = []

    def restore(self, snap):
        super().restore(snap)
        LookaheadRecorder.since_restore = []

    def step(self, action):
        LookaheadRecorder.since_restore.append(np.array(action, np.float32))
        return super().step(action)


class TrueActions:
    """Answers with the actions that really led from the first frame to the second."""

    frame_stride = K

    def __init__(self):
        self.pairs = []

    def actions(self, pair):
        self.pairs.append(pair)
        actions = np.stack(LookaheadRecorder.since_restore)
        assert actions.shape == (K, 2)
        return actions


class StandStill:
    frame_stride = K

    def actions(self, pair):
        return np.zeros((K, 2), np.float32)


def test_replay_with_the_true_actions_solves_what_the_expert_solves_and_standing_still_solves_nothing(monkeypatch):
    bench = load_benchmark()
    monkeypatch.setattr(bench, "TabletopEnv", LookaheadRecorder)
    true = TrueActions()
    agents = {"true": true, "still": StandStill(), "tracker": PusherTracker(frame_stride=K)}
    results = bench.replay_success(agents, [TASK], episodes=EPISODES, seed=0, image_size=SIZE)
    row = results[TASK]
    seeds = [EVAL_SEED_BASE + i for i in range(EPISODES)]
    assert row["seeds"] == seeds

    env = TabletopEnv(image_size=SIZE)
    expert_steps, budgets = [], []
    for s in seeds:
        expert_steps.append(len(run_expert_episode(env, s, TASK)["actions"]))
        env.reset(seed=s, options={"task": TASK, "split": "train"})
        budgets.append(env.step_budget)
    env.close()
    assert row["expert"] == 1.0 and max(expert_steps) < min(budgets)

    # the true actions reach every future frame exactly: the next real frame is the frame the model was shown
    assert row["true"] == 1.0
    assert abs(row["true_steps"] - np.mean(expert_steps)) <= K  # the expert's own episodes, replayed
    assert len(true.pairs) >= row["true_steps"] * EPISODES / K
    chained = [np.array_equal(a[1], b[0]) for a, b in zip(true.pairs, true.pairs[1:])]
    assert sum(chained) >= len(chained) - (EPISODES - 1)  # all but where a new episode starts
    assert all(not np.array_equal(p[0], p[1]) for p in true.pairs[:3])  # the expert moves at the start

    # doing nothing solves nothing and uses up the whole step budget
    assert row["still"] == 0.0 and row["still_steps"] == np.mean(budgets)

    # the classical tracker, reading the frames, follows the expert's future to success too
    assert row["tracker"] == 1.0

    table = bench.table(results, ["expert", "true", "still"])
    assert f"| {TASK} | 1.00 | 1.00 | 0.00 |" in table and "| **mean** | **1.00** | **1.00** | **0.00** |" in table
