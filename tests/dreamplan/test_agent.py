import numpy as np

from dreamplan.episode import play
import pytest

from invdyn.pusher_tracker import PusherTracker
from dreamplan.agent import ImaginationAgent
from dreamplan.baselines import ExpertAgent
from planner.scripted import ScriptedPlanner
from sim.oracles import SimulatorOracle
from sim.env import TabletopEnv
from sim.targets import Subgoal, Target
from sim.scene import Block


@pytest.fixture
def env():
    e = TabletopEnv()
    yield e
    e.close()


def test_simulator_oracle_imagines_the_true_future(env):
    env.reset(seed=1_000_003, options={"task": "push_to_corner"})
    oracle = SimulatorOracle(horizon=5, frame_stride=4)
    oracle.attach(env)
    before = env.snapshot()
    clips = oracle.imagine(env.camera_image(), env.subgoals[0].text, num_samples=2)
    assert clips.shape == (2, 5, 64, 64, 3) and clips.dtype == np.uint8
    np.testing.assert_array_equal(clips[0], clips[1])
    assert env.snapshot()["qpos"] == before["qpos"]  # imagining does not touch the real scene
    # executing the expert for real gives exactly the imagined frames
    from sim.expert import ScriptedExpert

    expert = ScriptedExpert([env.subgoals[0]])
    real = []
    for i in range(20):
        obs, *_ = env.step(expert.act_in(env))
        if (i + 1) % 4 == 0:
            real.append(obs["image"])
    np.testing.assert_array_equal(np.stack(real), clips[0])


def test_pusher_tracker_recovers_executed_actions(env):
    env.reset(seed=0, options={"task": "push_to_center"})
    tracker = PusherTracker(frame_stride=4)
    actions = np.tile([[0.6, -0.4]], (12, 1))
    frames = [env.camera_image()]
    for i, a in enumerate(actions):
        obs, *_ = env.step(a)
        if (i + 1) % 4 == 0:
            frames.append(obs["image"])
    est = tracker.actions(np.stack(frames))
    assert est.shape == (12, 2)
    np.testing.assert_allclose(est[4:].mean(0), [0.6, -0.4], atol=0.08)  # past the controller's start-up lag


@pytest.mark.parametrize("task", ["push_to_corner", "all_left"])
def test_oracle_video_agent_solves_tasks(env, task):
    agent = ImaginationAgent(ScriptedPlanner(), SimulatorOracle(), PusherTracker())
    solved = 0
    for seed in range(1_000_000, 1_000_003):
        ep = play(env, agent, seed, {"task": task})[0]
        solved += ep.success
        assert len(ep.frames) == ep.steps + 1 and ep.imagined
        assert set(ep.timings) >= {"plan", "imagine", "invdyn", "sim"}
        assert ep.success == (ep.failure is None)
    assert solved >= 2


def test_closing_the_agent_releases_the_oracles_simulator_copy(env):
    oracle = SimulatorOracle()
    agent = ImaginationAgent(ScriptedPlanner(), oracle, PusherTracker(), steps_per_subgoal=4, max_replans=0)
    play(env, agent, 1_000_000, {"task": "push_to_center"})[0]
    assert oracle._copy._cache  # it compiled and rendered the scene in its own copy
    agent.close()
    assert not oracle._copy._cache and oracle._copy._sim is None


def test_expert_agent_is_the_upper_bound(env):
    ep = play(env, ExpertAgent(), 1_000_000, {"task": "make_line"})[0]
    assert ep.success and len(ep.subgoal_success) == len(env.subgoals) and all(ep.subgoal_success)


class _NanInvdyn:
    frame_stride = 4

    def actions(self, frames):
        return np.full((4 * (len(frames) - 1), 2), np.nan, np.float32)


def test_nan_actions_stop_the_episode_with_a_reason(env):
    agent = ImaginationAgent(ScriptedPlanner(), SimulatorOracle(), _NanInvdyn())
    ep = play(env, agent, 1_000_000, {"task": "push_to_center"})[0]
    assert not ep.success and "non-finite action" in ep.failure and ep.steps == 0


def test_ungroundable_subgoal_is_reported(env, fixed_planner):
    env.reset(seed=1_000_000, options={"task": "push_to_center"})
    missing = [b for b in (Block("red", "cube"), Block("red", "cylinder")) if b not in env.blocks][0]
    sg = Subgoal(f"push the {missing.name} to the center", Target("region", missing, "center"))
    agent = ImaginationAgent(fixed_planner([sg]), SimulatorOracle(), PusherTracker())
    ep = play(env, agent, 1_000_000, {"task": "push_to_center"})[0]
    assert not ep.success and "not on the table" in ep.failure


def test_mismatched_frame_strides_are_refused():
    with pytest.raises(ValueError, match="reads frames 2 steps apart but the video model imagines them 4 apart"):
        ImaginationAgent(ScriptedPlanner(), SimulatorOracle(frame_stride=4), PusherTracker(frame_stride=2))


def test_a_subgoal_given_up_by_the_search_says_why(env):
    """No clip clears the search's bar: the episode's failure names that, not just a spent step budget."""
    from dreamplan.search import ClipScorer

    agent = ImaginationAgent(ScriptedPlanner(), SimulatorOracle(), PusherTracker(), scorer=ClipScorer(),
                             min_score=2.0, max_replans=0)  # scores are at most 1.0
    ep = play(env, agent, 1_000_000, {"task": "push_to_center"})[0]
    assert not ep.success and ep.steps == 0
    assert ep.failure.startswith("subgoal 'push the ") and "no imagined clip scored 2.0 or more" in ep.failure


def test_the_search_reads_actions_off_only_the_kept_clip_when_they_play_no_part_in_its_score(env):
    """Object-motion inverse dynamics does not copy the imagined pusher, so the score never reads its actions: it
    runs once per decision, on the kept clip. The pusher tracker's actions are scored: it reads all K clips."""
    from dreamplan.search import ClipScorer
    from invdyn.object_motion import ObjectMotionInverseDynamics

    def counting(cls):
        class Counting(cls):
            calls = 0

            def actions(self, frames):
                type(self).calls += 1
                return super().actions(frames)
        return Counting()

    for invdyn, reads_per_decision in ((counting(ObjectMotionInverseDynamics), 1), (counting(PusherTracker), 3)):
        agent = ImaginationAgent(ScriptedPlanner(), SimulatorOracle(), invdyn, num_samples=3, scorer=ClipScorer())
        ep = play(env, agent, 1_000_000, {"task": "push_to_center"})[0]
        assert ep.success and ep.imagined
        assert type(invdyn).calls == reads_per_decision * len(ep.imagined)
