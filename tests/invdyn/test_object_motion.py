import numpy as np

from dreamplan.episode import play
import pytest

from invdyn.pusher_tracker import PusherTracker
from dreamplan.agent import ImaginationAgent
from invdyn.object_motion import ObjectMotionInverseDynamics, match_blocks
from planner.scripted import ScriptedPlanner
from sim.oracles import SimulatorOracle
from sim.detector import Detection
from sim.env import TabletopEnv
from sim.expert import ScriptedExpert


@pytest.fixture
def env():
    e = TabletopEnv()
    yield e
    e.close()


def _det(color, x, y, area):
    return Detection(color, np.array([x, y]), area)


def test_match_blocks_pairs_same_color_blocks_by_size_and_reports_vanished_ones():
    first = [_det("red", 0.0, 0.0, 40), _det("red", 0.1, 0.1, 25), _det("blue", -0.1, 0.0, 40)]
    last = [_det("red", 0.12, 0.1, 24), _det("red", 0.05, 0.0, 41)]  # listed small first; blue is gone
    pairs = {tuple(a): b for a, b in match_blocks(first, last)}
    np.testing.assert_allclose(pairs[(0.0, 0.0)], [0.05, 0.0])
    np.testing.assert_allclose(pairs[(0.1, 0.1)], [0.12, 0.1])
    assert pairs[(-0.1, 0.0)] is None


def test_actions_move_the_block_towards_where_the_clip_shows_it(env):
    """Open loop over a whole clip (the agent re-imagines after half of it): from mid-push scenes the block ends,
    in the median, less than half as far from where the true future clip shows it as it started."""
    oracle, inverse = SimulatorOracle(horizon=4, frame_stride=4), ObjectMotionInverseDynamics(frame_stride=4)
    ratios = []
    for seed in range(1_000_000, 1_000_006):
        env.reset(seed=seed, options={"task": "push_to_corner"})
        subgoal = env.subgoals[0]
        expert = ScriptedExpert([subgoal], max_step=env.max_step)
        for _ in range(12):
            env.step(expert.act_in(env))
        snap, image, start = env.snapshot(), env.camera_image(), env.block_positions()[subgoal.block]
        oracle.attach(env)
        clip = oracle.imagine(image, subgoal.text, 1)[0]
        env.restore(snap)  # where the clip leaves the block: the same expert run for the clip's 16 steps
        for _ in range(16):
            env.step(expert.act_in(env))
        shown = env.block_positions()[subgoal.block]
        assert np.linalg.norm(shown - start) > 0.05  # the clip shows a real push

        env.restore(snap)
        actions = inverse.actions(np.concatenate([image[None], clip]))
        assert actions.shape == (16, 2) and np.all(np.abs(actions) <= 1)
        for a in actions:
            env.step(a)
        ratios.append(np.linalg.norm(env.block_positions()[subgoal.block] - shown) / np.linalg.norm(start - shown))
    oracle.close()
    assert np.median(ratios) < 0.5, ratios


def test_a_clip_where_no_block_moves_is_read_by_the_pusher_tracker(env):
    env.reset(seed=1_000_002, options={"task": "push_to_center"})
    frames, before = [env.camera_image()], env.block_positions()
    outward = np.sign(env.pusher_position()) * 0.5
    for i in range(8):
        obs, *_ = env.step(outward)
        if (i + 1) % 4 == 0:
            frames.append(obs["image"])
    assert all(np.allclose(before[b], p, atol=1e-3) for b, p in env.block_positions().items())  # only the pusher moved
    frames = np.stack(frames)
    tracked = PusherTracker(frame_stride=4).actions(frames)
    assert np.abs(tracked).max() > 0.3
    np.testing.assert_array_equal(ObjectMotionInverseDynamics(frame_stride=4).actions(frames), tracked)


def test_oracle_video_with_object_motion_solves_single_step_tasks(env):
    agent = ImaginationAgent(ScriptedPlanner(), SimulatorOracle(horizon=4, frame_stride=4),
                             ObjectMotionInverseDynamics(frame_stride=4))
    solved = 0
    for task, seed in [("push_to_corner", 1_000_000), ("push_next_to", 1_000_001), ("push_to_center", 1_000_002)]:
        solved += play(env, agent, seed, {"task": task})[0].success
    agent.close()
    assert solved == 3
