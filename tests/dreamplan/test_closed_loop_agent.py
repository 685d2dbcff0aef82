"""The imagination agent with a closed-loop inverse dynamics: one `act` per executed step, from what the robot
senses at that step, on the real tabletop env."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from dreamplan.agent import ImaginationAgent
from dreamplan.episode import play
from dreamplan.protocols import ClosedLoopInverseDynamics
from dreamplan.search import ClipScore
from invdyn.goal_reaching import GoalReachingInverseDynamics
from planner.scripted import ScriptedPlanner
from sim.env import TabletopEnv
from sim.oracles import SimulatorOracle
from videomodel.still import StillVideoModel


class RecordingEnv(gym.Wrapper):
    """The tabletop, keeping every observation it hands out (the reset's, then each step's) and every action."""

    def __init__(self, env):
        super().__init__(env)
        self.observations, self.actions = [], []

    def reset(self, **kw):
        obs, info = self.env.reset(**kw)
        self.observations, self.actions = [obs], []
        return obs, info

    def step(self, action):
        out = self.env.step(action)
        self.actions.append(np.array(action, copy=True))
        self.observations.append(out[0])
        return out


class RecordingInvdyn:
    """A real goal-reaching model, each call to `act` recorded (copies of what it was given, and what it answered)."""

    closed_loop = True

    def __init__(self, model):
        self.model, self.frame_stride = model, model.frame_stride
        self.calls = []

    def act(self, image, proprio, clip, t, imagined=True):
        action = self.model.act(image, proprio, clip, t, imagined)
        self.calls.append({"image": np.array(image, copy=True), "proprio": np.array(proprio, copy=True),
                           "clip": clip, "t": t, "imagined": imagined, "action": action.copy()})
        return action

    def actions(self, frames):  # an open-loop agent would call this; a closed-loop one must not
        raise AssertionError("a closed-loop inverse dynamics was asked for a clip's actions up front")


def model(frame_stride=4):
    torch.manual_seed(0)
    m = GoalReachingInverseDynamics(frame_stride=frame_stride, image_size=64, proprio_dim=2, action_dim=2, width=4,
                                    hidden=16)
    with torch.no_grad():  # outputs well away from zero, so the pusher moves and frames change step to step
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return m


@pytest.fixture
def env():
    e = RecordingEnv(TabletopEnv())
    yield e
    e.close()


@pytest.mark.parametrize("horizon,execute_horizon", [
    (7, 8),    # receding horizon: 8 of a clip's 28 steps, then a new clip
    (2, 20),   # execute_horizon past the clip's 8 steps: each clip is followed to its end, no further
])
def test_closed_loop_invdyn_is_asked_once_per_step_with_what_the_robot_senses(env, horizon, execute_horizon):
    invdyn = RecordingInvdyn(model())
    assert isinstance(invdyn, ClosedLoopInverseDynamics) and isinstance(invdyn.model, ClosedLoopInverseDynamics)
    agent = ImaginationAgent(ScriptedPlanner(), SimulatorOracle(horizon=horizon, frame_stride=4), invdyn,
                             execute_horizon=execute_horizon, steps_per_subgoal=20, max_replans=0)
    ep = play(env, agent, 1_000_000, {"task": "push_to_center"})[0]
    agent.close()
    calls = invdyn.calls
    assert ep.steps > 0 and len(calls) == ep.steps == len(env.actions)  # one act per executed step, no more
    assert "invdyn" in ep.timings and ep.scores == []
    clip_steps = min(execute_horizon, horizon * 4)
    starts = [s for s, _ in ep.imagined]
    assert starts[0] == 0 and len(starts) >= 2 and all(b - a == clip_steps for a, b in zip(starts, starts[1:]))
    for i, call in enumerate(calls):
        start, clip = [(s, c) for s, c in ep.imagined if s <= i][-1]
        assert call["t"] == i - start  # counts 0, 1, 2, ... within each clip, from 0 again for the next
        assert call["clip"] is clip and clip.shape == (horizon, 64, 64, 3)
        # what the env returned before this step: the reset's observation, then the previous step's
        np.testing.assert_array_equal(call["image"], env.observations[i]["image"])
        np.testing.assert_array_equal(call["proprio"], env.observations[i]["proprio"])
        np.testing.assert_array_equal(call["image"], ep.frames[i])
        # and its answer is what was executed
        np.testing.assert_array_equal(env.actions[i], call["action"])
        np.testing.assert_array_equal(ep.actions[i], call["action"])
    assert all(c["imagined"] is False for c in calls)  # the oracle's clips are the simulator's frames
    ts = [c["t"] for c in calls]
    assert ts[: 2 * clip_steps] == [*range(clip_steps), *range(clip_steps)]
    assert max(ts) == clip_steps - 1
    # the robot moved: the model was given live, changing observations, not the first one again and again
    assert len({c["proprio"].tobytes() for c in calls}) > len(calls) // 2


def recorded_calls(env, video_model, seed: int) -> list[dict]:
    """The `act` calls of one short episode (one 8-step attempt) with a recording real model."""
    invdyn = RecordingInvdyn(model())
    agent = ImaginationAgent(ScriptedPlanner(), video_model, invdyn, steps_per_subgoal=8, max_replans=0)
    play(env, agent, seed, {"task": "push_to_center"})
    agent.close()
    return invdyn.calls


def test_the_recorded_actions_are_the_real_models(env):
    """The wrapper adds nothing: the executed actions are what the bare model answers for the same inputs."""
    calls = recorded_calls(env, SimulatorOracle(horizon=2, frame_stride=4), 1_000_001)
    fresh = model()
    assert calls
    for c in calls:
        np.testing.assert_array_equal(fresh.act(c["image"], c["proprio"], c["clip"], c["t"], c["imagined"]),
                                      c["action"])


def test_a_world_models_clips_reach_the_invdyn_as_imagined(env):
    calls = recorded_calls(env, StillVideoModel(horizon=2, frame_stride=4), 1_000_002)
    assert calls and all(c["imagined"] is True for c in calls)


class CountingStill(StillVideoModel):
    """Held-still clips, clip i of each batch rolled down i rows (so the clips differ and the one chosen can be told
    apart)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.batches = []

    def imagine(self, image, text, num_samples=1):
        clips = np.stack([np.roll(c, i, axis=1) for i, c in enumerate(super().imagine(image, text, num_samples))])
        self.batches.append(clips)
        return clips


class PreferringScorer:
    """Scores clip i of a batch by -(i - 2)^2: the third clip (index 2) is always the best."""

    def __init__(self):
        self.calls = []

    def score(self, image, clip, subgoal, actions, check_replay=True):
        self.calls.append({"actions": actions, "check_replay": check_replay})
        i = (len(self.calls) - 1) % 4
        return ClipScore(-float((i - 2) ** 2), 0.0, 0, 0.0)


def test_with_a_closed_loop_invdyn_the_search_scores_clips_alone_and_the_best_is_followed(env):
    invdyn, video, scorer = RecordingInvdyn(model()), CountingStill(horizon=2, frame_stride=4), PreferringScorer()
    agent = ImaginationAgent(ScriptedPlanner(), video, invdyn, num_samples=4, scorer=scorer, steps_per_subgoal=16,
                             max_replans=0)
    ep = play(env, agent, 1_000_000, {"task": "push_to_center"})[0]
    agent.close()
    assert len(video.batches) == 2 and len(scorer.calls) == 8  # two 8-step attempts, K = 4 clips each
    assert all(c["actions"] is None and c["check_replay"] is False for c in scorer.calls)  # no actions up front
    assert [c["clip"] is None for c in invdyn.calls] == [False] * 16
    for (start, clip), batch in zip(ep.imagined, video.batches):
        np.testing.assert_array_equal(clip, batch[2])  # the scorer's pick is the clip executed ...
        assert all(c["clip"] is clip for c in invdyn.calls[start : start + 8])  # ... and the one the invdyn reads
    assert ep.scores == [0.0, 0.0]


def test_an_invdyn_reading_another_frame_stride_is_refused():
    with pytest.raises(ValueError, match="reads frames 2 steps apart"):
        ImaginationAgent(ScriptedPlanner(), SimulatorOracle(frame_stride=4), model(frame_stride=2))


class _NanClosedLoop:
    frame_stride = 4
    closed_loop = True

    def act(self, image, proprio, clip, t, imagined=True):
        return np.full(2, np.nan, np.float32)


def test_a_non_finite_closed_loop_action_stops_the_episode_with_a_reason(env):
    agent = ImaginationAgent(ScriptedPlanner(), SimulatorOracle(), _NanClosedLoop())
    ep = play(env, agent, 1_000_000, {"task": "push_to_center"})[0]
    agent.close()
    assert not ep.success and "non-finite action" in ep.failure and ep.steps == 0
