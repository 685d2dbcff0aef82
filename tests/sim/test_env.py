import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sim
from sim.env import STATE_DIM, TabletopEnv
from sim.expert import ScriptedExpert
from sim.tasks import SPLITS, TASKS


@pytest.fixture
def env():
    e = TabletopEnv()
    yield e
    e.close()


def test_passes_gymnasium_env_checker():
    e = gym.make(sim.ENV_ID, render_mode="rgb_array")
    check_env(e.unwrapped, skip_render_check=False)
    e.close()


def test_every_task_has_a_registered_env_id():
    for task in TASKS:
        e = gym.make(sim.task_env_id(task))
        _, info = e.reset(seed=0)
        assert info["task"] == task
        e.close()


def test_observation_matches_its_space(env):
    obs, info = env.reset(seed=3, options={"task": "group_by_color"})
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert obs["state"].shape == (STATE_DIM,) and obs["state"].dtype == np.float32
    assert env.observation_space.contains(obs)
    assert len(info["subgoals"]) >= 2 and info["subgoal_index"] == 0 and not info["success"]


def test_image_size_is_configurable():
    e = TabletopEnv(image_size=96, render_mode="rgb_array", render_size=128)
    obs, _ = e.reset(seed=0)
    assert obs["image"].shape == (96, 96, 3)
    assert e.render().shape == (128, 128, 3)
    e.close()


def _rollout(seed, task, steps=30):
    e = TabletopEnv()
    obs, info = e.reset(seed=seed, options={"task": task})
    rng = np.random.default_rng(123)
    frames, states = [obs["image"]], [obs["state"]]
    for _ in range(steps):
        obs, *_ = e.step(rng.uniform(-1, 1, 2))
        frames.append(obs["image"])
        states.append(obs["state"])
    e.close()
    return np.stack(frames), np.stack(states), info["instruction"]


def test_same_seed_gives_identical_frames_and_states():
    f1, s1, i1 = _rollout(7, "make_line")
    f2, s2, i2 = _rollout(7, "make_line")
    assert i1 == i2
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(s1, s2)
    f3, _, _ = _rollout(8, "make_line")
    assert not np.array_equal(f1[0], f3[0])


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("split", ["train", "crowded"])
def test_every_scene_variant_steps_two_seconds_without_mujoco_warnings(task, split):
    e = TabletopEnv(split=split)
    e.reset(seed=11, options={"task": task})
    rng = np.random.default_rng(0)
    z0 = {b: e._sim.data.qpos[a + 2] for b, a in zip(e.blocks, e._sim.block_qpos)}
    for _ in range(40):  # 40 steps x 50 ms
        e.step(rng.uniform(-1, 1, 2))
    assert e.mujoco_warnings() == {}
    for b, a in zip(e.blocks, e._sim.block_qpos):  # blocks stay on the table, upright, inside the walls
        assert abs(e._sim.data.qpos[a + 2] - z0[b]) < 0.01
        assert np.all(np.abs(e._sim.data.qpos[a : a + 2]) < 0.29)
    e.close()


def test_nan_action_is_rejected_and_out_of_range_is_clipped(env):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step([np.inf, 0.0])
    with pytest.raises(ValueError, match="2 elements"):
        env.step([0.1, 0.2, 0.3])
    snap = env.snapshot()
    big, _, _, _, _ = env.step([5.0, -9.0])
    env.restore(snap)
    clipped, _, _, _, _ = env.step([1.0, -1.0])
    np.testing.assert_array_equal(big["state"], clipped["state"])


def test_bad_reset_options_name_the_problem(env):
    with pytest.raises(ValueError, match="unknown task 'stack_blocks'"):
        env.reset(seed=0, options={"task": "stack_blocks"})
    with pytest.raises(ValueError, match="unknown color 'pink'"):
        env.reset(options={"instance": {"task": "push_to_center", "blocks": [["pink", "cube"]]}, "positions": [[0, 0]]})
    with pytest.raises(ValueError, match="unknown shape 'sphere'"):
        env.reset(options={"instance": {"task": "push_to_center", "blocks": [["red", "sphere"]]}, "positions": [[0, 0]]})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"colour": "red"})
    with pytest.raises(ValueError, match="unknown split"):
        env.reset(options={"split": "test"})
    with pytest.raises(ValueError, match="unknown task"):
        TabletopEnv(task="nope")


def test_exact_scene_from_options(env):
    inst = {"task": "push_next_to", "blocks": [["red", "cube"], ["blue", "cylinder"]],
            "params": {"block": "red cube", "anchor": "blue cylinder"}, "instruction": "push the red cube next to the blue cylinder"}
    obs, info = env.reset(options={"instance": inst, "positions": [[-0.15, 0.0], [0.15, 0.0]], "pusher": [-0.22, 0.0]})
    assert info["subgoals"] == ["push the red cube next to the blue cylinder"]
    np.testing.assert_allclose(obs["state"][:2], [-0.22, 0.0], atol=1e-6)
    np.testing.assert_allclose(obs["state"][2:6], [1, -0.15, 0.0, 0.0], atol=1e-6)
    # the red cube is left of the image centre, the blue cylinder right of it
    img = obs["image"].astype(int)
    red = (img[..., 0] > 180) & (img[..., 1] < 80) & (img[..., 2] < 80)
    blue = (img[..., 2] > 180) & (img[..., 0] < 80)
    assert red.sum() > 10 and blue.sum() > 10
    assert np.nonzero(red)[1].mean() < 28 < 36 < np.nonzero(blue)[1].mean()


def test_snapshot_restore_reproduces_the_future(env):
    env.reset(seed=5, options={"task": "all_left"})
    for _ in range(5):
        env.step([0.5, 0.2])
    snap = env.snapshot()
    a = [env.step([-0.3, 0.7])[0]["image"] for _ in range(5)]
    other = TabletopEnv()
    other.restore(snap)
    b = [other.step([-0.3, 0.7])[0]["image"] for _ in range(5)]
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    other.close()


def test_subgoal_progress_and_success_are_reported(env):
    obs, info = env.reset(seed=2, options={"task": "all_left"})  # its success means every subgoal holds
    expert = ScriptedExpert(env.subgoals)
    seen = [info["subgoal_index"]]
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(expert.act_in(env))
        seen.append(info["subgoal_index"])
    assert terminated and info["success"] and reward == 1.0
    assert info["subgoal_success"].all()
    assert seen == sorted(seen) and seen[-1] == len(info["subgoals"]) >= 2


@pytest.mark.parametrize("split", SPLITS)
def test_every_split_samples(split, env):
    _, info = env.reset(seed=0, options={"task": "push_to_corner", "split": split})
    assert info["instruction"]
