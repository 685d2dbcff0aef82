"""The Meta-World v3 adapter, its scripted expert, recording and the AVDC-protocol eval (real Meta-World, real MuJoCo)."""

import json

import numpy as np
import pytest

import gymnasium as gym
from hydra.utils import instantiate

from dreamplan.cli import compose, main
from dreamplan.episode import play
from videomodel.fidelity import psnr
from dreamplan.baselines import MetaWorldExpertAgent
from planner.task_text import TaskTextPlanner
from sim.metaworld.oracle import MetaWorldOracle
from sim.dataset import EpisodeStore
from sim.errors import DreamplanError
from sim.metaworld import AVDC_TASKS, CAMERAS, ENV_ID, task_text
from sim.metaworld.env import MetaWorldEnv
from sim.metaworld.expert import MetaWorldExpert
from sim.metaworld.record import MetaWorldRecordJob, record_metaworld

pytestmark = pytest.mark.metaworld  # skipped without the extra (tests/conftest.py)


@pytest.fixture(scope="module")
def env():
    e = MetaWorldEnv("door-open", image_size=64)
    yield e
    e.close()


def test_reset_step_render_shapes(env):
    obs, info = env.reset(seed=0, options={"task": "door-open", "camera": "corner2"})
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert obs["state"].shape == (39,) and obs["state"].dtype == np.float32
    assert env.observation_space.contains(obs)
    assert info["instruction"] == "door open" and info["camera"] == "corner2" and info["success"] is False
    assert info["subgoals"] == ["door open"] and info["seed"] == 0
    obs, reward, terminated, truncated, info = env.step(np.array([0.0, 0.0, 1.0, -1.0]))
    assert obs["image"].shape == (64, 64, 3) and np.isfinite(reward) and not terminated and not truncated
    assert "near_object" in info["metaworld"]
    assert env.camera_image(size=32).shape == (32, 32, 3)
    with pytest.raises(ValueError, match="4 elements"):
        env.step(np.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        env.step([0, np.nan, 0, 0])
    with pytest.raises(DreamplanError, match="unknown Meta-World task 'door-opne'"):
        env.reset(seed=0, options={"task": "door-opne"})
    with pytest.raises(DreamplanError, match="unknown Meta-World camera"):
        env.reset(seed=0, options={"camera": "top"})


def test_gym_registration_and_render_mode():
    e = gym.make(ENV_ID, task="hammer-v3", camera="corner3", image_size=48, render_mode="rgb_array", render_size=80)
    try:
        obs, info = e.reset(seed=1)
        assert obs["image"].shape == (48, 48, 3) and info["task"] == "hammer"
        assert e.render().shape == (80, 80, 3)
    finally:
        e.close()


def test_actions_out_of_the_box_are_clipped(env):
    env.reset(seed=2)
    big = env.step(np.array([5.0, 0, 0, 1]))[0]["state"]
    env.reset(seed=2)
    one = env.step(np.array([1.0, 0, 0, 1]))[0]["state"]
    np.testing.assert_array_equal(big, one)


@pytest.mark.parametrize("camera", CAMERAS)
def test_frames_are_upright(camera):
    """Meta-World's corner cameras are rolled 180 degrees; in our frames a higher point is higher in the image."""
    e = MetaWorldEnv("reach", image_size=96)
    try:
        e.reset(seed=0)
        model, data = e._mw.model, e._mw.data
        goal = model.site("goal").id
        model.site_size[goal] = 0.04
        model.site_rgba[goal] = [0, 1, 0, 1]
        rows = []
        for z in (0.05, 0.35):
            data.site_xpos[goal] = [0.0, 0.7, z]  # read by the renderer as is
            image = e.camera_image(camera=camera).astype(int)
            green = (image[..., 1] > 150) & (image[..., 0] < 80) & (image[..., 2] < 80)
            assert green.sum() >= 5, f"the marker is not visible from {camera}"
            rows.append(np.argwhere(green)[:, 0].mean())
        assert rows[1] < rows[0] - 5, f"{camera}: raising the marker 30 cm moved it from row {rows[0]:.0f} to {rows[1]:.0f}"
    finally:
        e.close()


def test_seeded_resets_reproduce_avdc_scenes(env):
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

    global_state = np.random.get_state()[1].copy()
    assembly = {"task": "assembly"}
    first = env.reset(seed=7, options=assembly)[0]
    env.reset(seed=8, options=assembly)
    env.step(np.ones(4))
    again = env.reset(seed=7, options=assembly)[0]
    np.testing.assert_array_equal(first["state"], again["state"])
    np.testing.assert_array_equal(first["image"], again["image"])
    assert not np.array_equal(env.reset(seed=8, options=assembly)[0]["state"], first["state"])
    reference = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE["assembly-v3-goal-observable"](seed=7)
    try:
        np.testing.assert_array_equal(first["state"], reference.reset()[0].astype(np.float32))
    finally:
        reference.close()
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)  # numpy's global generator untouched


def test_scripted_policy_solves_easy_tasks_and_episode_ends_on_success(env):
    agent = MetaWorldExpertAgent()
    for task in ("door-open", "handle-press"):
        for seed in (0, 1):
            episode = play(env, agent, seed, {"task": task, "camera": "corner"})[0]
            assert episode.success and 0 < episode.steps < 500, (task, seed, episode.failure)
            assert len(episode.frames) == episode.steps + 1 and episode.actions[0].shape == (4,)
    assert TaskTextPlanner().plan(env.camera_image(), task_text("door-open"))[0].text == "door open"


def test_restore_replays_a_snapshot_exactly(env):
    env.reset(seed=3, options={"task": "assembly", "camera": "corner2"})
    expert = MetaWorldExpert("assembly")
    for _ in range(40):
        env.step(expert.act_in(env))
    copy = MetaWorldEnv("door-open")
    try:
        copy.reset(seed=9)
        copy.step(np.ones(4))  # an unrelated episode first: nothing of it may leak into the restored one
        copy.restore(env.snapshot())
        assert copy.steps == 40 and copy.instance == env.instance
        np.testing.assert_array_equal(copy.state_vector(), env.state_vector())
        np.testing.assert_array_equal(copy.camera_image(), env.camera_image())
    finally:
        copy.close()


def test_oracle_imagines_what_the_scripted_policy_then_does(env):
    env.reset(seed=5, options={"task": "door-open", "camera": "corner3"})
    expert = MetaWorldExpert("door-open")
    for _ in range(10):
        env.step(expert.act_in(env))
    oracle = MetaWorldOracle(horizon=3, frame_stride=4)
    oracle.attach(env)
    clips = oracle.imagine(env.camera_image(), "door open", num_samples=2)
    assert clips.shape == (2, 3, 64, 64, 3) and clips.dtype == np.uint8
    real = []
    for i in range(12):
        obs = env.step(expert.act_in(env))[0]
        if (i + 1) % 4 == 0:
            real.append(obs["image"])
    np.testing.assert_array_equal(clips[0], np.stack(real))
    np.testing.assert_array_equal(clips[1], clips[0])
    assert env.steps == 22  # the live episode itself was not moved by imagining
    oracle.close()


def test_step_limit_truncates(env):
    short = MetaWorldEnv("door-open", max_steps=3)
    try:
        short.reset(seed=0)
        with pytest.raises(RuntimeError, match="advance by 4 steps from step 0 of 3"):
            short.advance(np.zeros((4, 4)))
        flags = [short.step(np.zeros(4))[2:4] for _ in range(3)]
        assert flags == [(False, False), (False, False), (False, True)]
        with pytest.raises(RuntimeError, match="episode is over"):
            short.step(np.zeros(4))
    finally:
        short.close()


def test_imagination_agent_config_for_metaworld_composes():
    """AVDC's loop is configuration of the existing ImaginationAgent."""
    cfg = compose("eval", ["suite=metaworld", "agent=metaworld_imagine"])
    assert cfg.agent._target_ == "dreamplan.agent.ImaginationAgent"
    attempts, steps = cfg.agent.max_replans + 1, cfg.agent.steps_per_subgoal
    assert attempts * steps <= cfg.env.max_steps < (attempts + 1) * steps  # re-plans until the episode is spent
    assert cfg.agent.planner._target_ == "planner.task_text.TaskTextPlanner"
    assert cfg.env._target_ == "sim.metaworld.env.MetaWorldEnv" and cfg.seed_base == 0


def test_record_round_trip_resume_and_replay(tmp_path, capsys):
    out = tmp_path / "mw"
    args = ["record", "env=metaworld", f"out={out}", "tasks=[handle-press]", "cameras=[corner,corner3]", "episodes=1",
            "env.image_size=32"]
    assert main(args) == 0
    assert "recorded 2 Meta-World episodes in 1 shards" in capsys.readouterr().out
    store = EpisodeStore(out)
    assert len(store) == 2 and store.env_config["_target_"] == "sim.metaworld.env.MetaWorldEnv"
    ep = store.episode(1)
    steps = len(ep["actions"])
    assert ep["frames"].shape == (steps + 1, 32, 32, 3) and ep["actions"].shape == (steps, 4)
    assert ep["states"].shape == (steps + 1, 39) and ep["success"] and ep["split"] == "corner3"
    assert ep["initial"] == {"task": "handle-press", "camera": "corner3", "seed": 1001, "instruction": "handle press"}
    assert store.segments(1) == [(0, steps, {"text": "handle press", "target": None, "reached": True})]
    # replaying the recorded actions from the recorded seed gives the recorded frames and states
    replay = MetaWorldEnv(image_size=32)
    try:
        obs, _ = replay.reset(seed=ep["initial"]["seed"], options={k: ep["initial"][k] for k in ("task", "camera")})
        for a in ep["actions"]:
            obs, _, terminated, _, _ = replay.step(a)
        np.testing.assert_array_equal(obs["state"], ep["states"][-1])
        np.testing.assert_array_equal(obs["image"], ep["frames"][-1])
        assert terminated
    finally:
        replay.close()
    store.close()
    summary = json.loads((out / "record.json").read_text())
    assert summary["shards_written"] == 1
    assert main(args) == 0  # resumes: the complete shard is kept
    assert json.loads((out / "record.json").read_text())["shards_written"] == 0


def test_recording_skips_seeds_whose_demo_fails(tmp_path):
    """A seed whose scripted demo fails (basketball from seed 1009) is skipped and listed; the next seed is recorded."""
    job = MetaWorldRecordJob(out=str(tmp_path), tasks=["basketball"], cameras=["corner"], episodes=1, seed=1009,
                             env_factory=lambda: MetaWorldEnv(image_size=16))
    summary = record_metaworld(job)
    assert summary["failed_seeds_skipped_now"] == [{"task": "basketball", "camera": "corner", "seed": 1009}]
    store = EpisodeStore(tmp_path, success_only=False)
    assert len(store) == 1 and store.refs[0].seed == 1010 and store.refs[0].success


def test_recording_refuses_evaluation_seeds(tmp_path):
    job = MetaWorldRecordJob(out=str(tmp_path), seed=10, env_factory=MetaWorldEnv)
    with pytest.raises(DreamplanError, match="evaluation seeds 0-24"):
        record_metaworld(job)


@pytest.mark.integration
def test_eval_suite_metaworld_follows_avdc_protocol(tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", "suite=metaworld", "tasks=[handle-press]", "episodes=2", f"out={out}"]) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert info["seeds"] == [0, 1] and info["splits"] == list(CAMERAS) and info["tasks"] == ["handle-press"]
    assert len(info["episodes"]) == 6
    summary = info["summary"]
    assert summary["handle-press"]["episodes"] == 6 and summary["handle-press/corner2"]["episodes"] == 2
    assert summary["all"]["success_rate"] == 1.0 and summary["all"]["ci95"][1] == pytest.approx(1.0)
    assert info["config"]["agent"]["_target_"] == "dreamplan.baselines.MetaWorldExpertAgent"
    assert "handle-press/corner3" in (out / "results.md").read_text()
    assert len(AVDC_TASKS) == 11


@pytest.mark.integration
@pytest.mark.parametrize("agent", ["metaworld_expert", "metaworld_imagine"])
def test_dreamplan_run_takes_a_metaworld_task_by_its_text(tmp_path, capsys, agent):
    """Both Meta-World agents under `dreamplan run`; the imagination agent with the true future and the shipped
    inverse dynamics closes the door, as the expert does."""
    out = tmp_path / "door.mp4"
    args = ["run", "door close", "env=metaworld", f"agent={agent}", "videomodel=metaworld_oracle", "invdyn=metaworld",
            f"out={out}"]
    assert main(args) == 0, capsys.readouterr()
    assert out.stat().st_size > 1000 and "success after" in capsys.readouterr().out
    assert main(["run", "fly to the moon", "env=metaworld", "agent=metaworld_expert", f"out={out}"]) == 2
    assert "no Meta-World task reads 'fly to the moon'" in capsys.readouterr().err


@pytest.mark.integration
def test_unknown_camera_split_is_one_line_error(tmp_path, capsys):
    assert main(["eval", "suite=metaworld", "tasks=[hammer]", "splits=[train]", "episodes=1", f"out={tmp_path}"]) == 2
    assert "unknown split 'train' (known: corner, corner2, corner3)" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.integration
def test_shipped_invdyn_follows_the_oracle_video_to_success(tmp_path):
    """The shipped 4-D inverse dynamics (checkpoints/metaworld-invdyn-k8), reading MetaWorldOracle's clips, closes
    the door on AVDC's seeds 0-1 from the three cameras (at least 5 of the 6 episodes)."""
    out = tmp_path / "eval"
    assert main(["eval", "suite=metaworld", "tasks=[door-close]", "episodes=2", "agent=metaworld_imagine",
                 "videomodel=metaworld_oracle", "invdyn=metaworld", f"out={out}"]) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert info["summary"]["all"]["successes"] >= 5, info["summary"]["all"]
    # one clip per attempt, 32 steps each, re-planned until the 500 steps are spent: at most 15
    assert all(r["decisions"] <= 15 and r["decisions"] * 32 >= r["steps"] for r in info["episodes"])


@pytest.mark.slow
@pytest.mark.integration
def test_shipped_closed_loop_invdyn_follows_the_oracle_video_to_success(tmp_path):
    """The shipped closed-loop inverse dynamics (checkpoints/metaworld-goal-invdyn), asked for every action while
    following MetaWorldOracle's clips, closes the door on AVDC's seeds 0-1 from the three cameras (all 6 episodes)."""
    out = tmp_path / "eval"
    assert main(["eval", "suite=metaworld", "tasks=[door-close]", "episodes=2", "agent=metaworld_imagine",
                 "videomodel=metaworld_oracle", "invdyn=metaworld_goal", f"out={out}"]) == 0
    info = json.loads((out / "eval_info.json").read_text())
    assert info["summary"]["all"]["successes"] == 6, info["summary"]["all"]
    assert all(r["timings"]["invdyn"] > 0 for r in info["episodes"])


@pytest.mark.slow
@pytest.mark.integration
def test_shipped_world_model_imagines_the_task_better_than_a_still_frame(env):
    """checkpoints/metaworld-videomodel, from a real start frame of each AVDC task: its clip is nearer the future the
    scripted policy really produces (MetaWorldOracle) than the start frame held still (PSNR averaged over
    the clip's frames)."""
    model = instantiate(compose("eval", ["suite=metaworld", "videomodel=dit_metaworld"]).videomodel)
    oracle = MetaWorldOracle(horizon=model.horizon, frame_stride=model.frame_stride)
    imagined, still = [], []
    for i, task in enumerate(AVDC_TASKS):
        env.reset(seed=i, options={"task": task, "camera": CAMERAS[i % 3]})
        oracle.attach(env)
        image = env.camera_image()
        real = oracle.imagine(image, task_text(task), 1)[0]
        clip = model.imagine(image, task_text(task), 1, seed=i)[0]
        assert clip.shape == real.shape == (4, 64, 64, 3) and clip.dtype == np.uint8
        imagined.append(psnr(clip, real))
        still.append(psnr(np.broadcast_to(image, real.shape), real))
    oracle.close()
    assert np.mean(imagined) > np.mean(still) + 0.5, (np.mean(imagined), np.mean(still))
