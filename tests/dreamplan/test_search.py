import numpy as np

from dreamplan.episode import play

from invdyn.pusher_tracker import PusherTracker
from dreamplan.agent import ImaginationAgent
from planner.scripted import ScriptedPlanner
from sim.oracles import SimulatorOracle
from dreamplan.perception import detected_positions
from dreamplan.search import ClipScorer
from sim.detector import detect_blocks, world_to_pixel
from sim.env import TabletopEnv
from sim.targets import Subgoal


def _erase_block(clip, block):
    """The clip with `block` painted over (table color) from its third frame on: it vanishes mid-clip."""
    out = clip.copy()
    for t in range(2, len(clip)):
        c, r = np.round(world_to_pixel(detected_positions(detect_blocks(clip[t]))[block], 0.06, clip.shape[1])).astype(int)
        out[t, max(r - 5, 0) : r + 6, max(c - 5, 0) : c + 6] = clip[0, 2, 32]
    return out


class _OneGoodOneBroken:
    """Imagines K clips: the true future, and the same future with the subgoal's block erased."""

    frame_stride = 4

    def __init__(self):
        self.oracle = SimulatorOracle()

    def attach(self, env):
        self.oracle.attach(env)
        self.env = env.unwrapped

    def imagine(self, image, text, num_samples):
        good = self.oracle.imagine(image, text, 1)[0]
        broken = _erase_block(good, self.env.subgoals[0].block)
        return np.stack([broken, good])


def test_scorer_prefers_the_physical_clip_that_reaches_the_goal():
    env = TabletopEnv()
    env.reset(seed=1_000_002, options={"task": "push_to_center"})
    sg = Subgoal(env.subgoals[0].text, env.subgoals[0])
    oracle = SimulatorOracle(horizon=7)
    oracle.attach(env)
    image = env.camera_image()
    good = oracle.imagine(image, sg.text, 1)[0]
    tracker, scorer = PusherTracker(), ClipScorer()
    s_good = scorer.score(image, good, sg, tracker.actions(np.concatenate([image[None], good])))
    assert s_good.progress > 0.2 and s_good.violations == 0 and s_good.replay_error < 0.005
    still = np.repeat(image[None], 7, axis=0)  # nothing happens
    s_still = scorer.score(image, still, sg, tracker.actions(np.concatenate([image[None], still])))
    assert abs(s_still.progress) < 0.05 and s_still.total < s_good.total
    broken = _erase_block(good, sg.target.block)
    s_broken = scorer.score(image, broken, sg, tracker.actions(np.concatenate([image[None], broken])))
    assert s_broken.progress == -1.0 and s_broken.violations >= 1 and s_broken.total < s_still.total
    # actions that do not follow the imagined pusher (here: none) cost the clip unless replay is not checked
    idle = np.zeros((len(good) * 4, 2), np.float32)
    assert scorer.score(image, good, sg, idle).replay_error > 0.01
    unchecked = scorer.score(image, good, sg, idle, check_replay=False)
    assert unchecked.replay_error == 0.0 and unchecked.total == s_good.progress
    env.close()


def test_same_color_blocks_are_told_apart_by_size():
    env = TabletopEnv()
    env.reset(seed=0, options={"task": "group_by_color"})
    pos = detected_positions(detect_blocks(env.camera_image()))
    for block, xy in env.block_positions().items():
        assert np.linalg.norm(pos[block] - xy) < 0.015, block
    env.close()


def test_agent_searches_over_samples():
    env = TabletopEnv()
    agent = ImaginationAgent(ScriptedPlanner(), _OneGoodOneBroken(), PusherTracker(), num_samples=2, scorer=ClipScorer())
    ep = play(env, agent, 1_000_002, {"task": "push_to_center"})[0]
    assert ep.success
    block = env.subgoals[0].block
    assert all(block in detected_positions(detect_blocks(clip[-1])) for _, clip in ep.imagined)  # never the broken one
    assert len(ep.scores) == len(ep.imagined) and min(ep.scores) > -0.5
    env.close()
