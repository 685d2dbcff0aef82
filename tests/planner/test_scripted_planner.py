import pytest
from hydra.utils import instantiate

from dreamplan.cli import compose
from sim.env import TabletopEnv
from sim.errors import DreamplanError
from sim.tasks import TASKS


@pytest.mark.parametrize("task", sorted(TASKS))
def test_scripted_planner_returns_the_reference_plan(task):
    env = TabletopEnv()
    planner = instantiate(compose("run", ["instruction=x", "planner=scripted"]).planner)
    for split in ("train", "crowded"):
        obs, info = env.reset(seed=1_000_007, options={"task": task, "split": split})
        planner.attach(env)
        plan = planner.plan(obs["image"], info["instruction"])
        assert [sg.target for sg in plan] == env.subgoals
        assert [sg.text for sg in plan] == info["subgoals"]
    with pytest.raises(DreamplanError, match="only knows this episode's instruction"):
        planner.plan(obs["image"], "some other instruction")
    env.close()
