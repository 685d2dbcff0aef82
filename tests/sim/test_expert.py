import pytest

from sim.env import TabletopEnv
from sim.record import run_expert_episode
from sim.tasks import TASKS


@pytest.mark.parametrize("task", list(TASKS))
def test_expert_solves_each_task(task):
    env = TabletopEnv()
    for seed in (0, 1, 2):
        ep = run_expert_episode(env, seed, task)
        assert ep["success"], (task, seed, ep["subgoals"])
        assert (ep["actions"] >= -1).all() and (ep["actions"] <= 1).all()
    env.close()
