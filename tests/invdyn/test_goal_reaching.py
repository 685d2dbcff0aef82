"""The closed-loop goal-reaching inverse dynamics: the protocol, goal selection, checkpoints, its training data and
`dreamplan train goal_invdyn` on real recorded episodes."""

import json

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from dreamplan.cli import main
from dreamplan.protocols import ClosedLoopInverseDynamics
from invdyn.data import GoalSteps
from invdyn.goal_reaching import GoalReachingConfig, GoalReachingInverseDynamics
from invdyn.train import goal_step_loss
from sim.dataset import EpisodeStore


def tiny(**kw):
    torch.manual_seed(0)
    return GoalReachingInverseDynamics(**{"frame_stride": 4, "image_size": 32, "proprio_dim": 2, "action_dim": 2,
                                          "width": 4, "hidden": 16, **kw})


def frames(n, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def perturbed(model, scale=0.3, seed=1):
    """Weights away from the init (whose outputs are small), so that outputs differ visibly between inputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return model


# ------------------------------------------------------------------------------------------------ the model
def test_act_returns_one_finite_clipped_action():
    model = perturbed(tiny(action_dim=3))
    assert isinstance(model, ClosedLoopInverseDynamics) and model.closed_loop is True
    clip = frames(3)
    outs = [model.act(frames(1, seed=s)[0], np.array([0.1, -0.2], np.float32), clip, t) for s, t in ((1, 0), (2, 5),
                                                                                                   (3, 11))]
    for out in outs:
        assert out.shape == (3,) and out.dtype == np.float32
        assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= 1)
    # the perturbed head gives large raw outputs: some must have been clipped to exactly +-1
    assert any(np.any(np.abs(o) == 1) for o in outs)
    raw = model(torch.rand(5, 3, 32, 32, 3), torch.randn(5, 2), torch.tensor([1, 2, 3, 4, 4]))
    assert raw.shape == (5, 3)


def test_a_model_told_the_goal_source_reads_it():
    model = perturbed(tiny(goal_source=True))
    image, proprio, clip = frames(1)[0], np.array([0.1, -0.2], np.float32), frames(3)
    assert not np.array_equal(model.act(image, proprio, clip, 2), model.act(image, proprio, clip, 2, imagined=False))
    with pytest.raises(ValueError, match="pass `imagined`"):
        model(torch.rand(1, 3, 32, 32, 3), torch.randn(1, 2), torch.tensor([1]))
    plain = perturbed(tiny())  # one that is not told: the same answer either way
    np.testing.assert_array_equal(plain.act(image, proprio, clip, 2),
                                  plain.act(image, proprio, clip, 2, imagined=False))


def test_the_simulators_goals_train_only_their_own_head():
    model = perturbed(tiny(goal_source=True))
    inputs = torch.rand(4, 3, 32, 32, 3), torch.randn(4, 2), torch.tensor([1, 2, 3, 4])
    mixed = model(*inputs, torch.tensor([0, 1, 0, 1]))
    torch.testing.assert_close(mixed[0::2], model(*inputs, torch.zeros(4, dtype=torch.long))[0::2])
    torch.testing.assert_close(mixed[1::2], model(*inputs, torch.ones(4, dtype=torch.long))[1::2])
    model(*inputs, torch.zeros(4, dtype=torch.long)).pow(2).sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in model.imagined_head.parameters())
    assert all(p.grad.any() for p in model.head.parameters())


def test_act_keeps_the_training_mode_it_found():
    model = tiny()
    model.train()
    model.act(frames(1)[0], np.zeros(2), frames(2), 0)
    assert model.training
    model.eval()
    model.act(frames(1)[0], np.zeros(2), frames(2), 0)
    assert not model.training


@pytest.mark.parametrize("t,goals,steps_left", [
    (0, [0, 1], 4),    # the clip just began: frame 0 is due in 4 steps
    (1, [0, 1], 3),
    (3, [0, 1], 1),    # frame 0 is due at the next step
    (4, [1, 2], 4),    # frame 0 reached: frame 1 next
    (7, [1, 2], 1),
    (8, [2, 2], 4),    # the last imagined frame next: the one after it is clamped to the clip's end
    (9, [2, 2], 3),
    (11, [2, 2], 1),   # the clip's last step
])
def test_goal_inputs_pick_the_next_imagined_frame_due(t, goals, steps_left):
    model = tiny(frame_stride=4)
    clip = np.stack([np.full((32, 32, 3), 10 * (j + 1), np.uint8) for j in range(3)])  # frame j: all 10(j+1)
    image = np.full((32, 32, 3), 200, np.uint8)
    inputs, left = model.goal_inputs(image, clip, t)
    assert inputs.shape == (3, 32, 32, 3) and inputs.dtype == np.uint8
    np.testing.assert_array_equal(inputs[0], image)
    np.testing.assert_array_equal(inputs[1:], clip[goals])
    assert left == steps_left
    # frame j is due (j + 1) * frame_stride steps after the clip began
    assert t + left == (goals[0] + 1) * 4


def test_goal_inputs_of_a_one_frame_clip_repeat_it():
    model = tiny(frame_stride=2)
    clip = frames(1)
    inputs, left = model.goal_inputs(frames(1, seed=5)[0], clip, 1)
    np.testing.assert_array_equal(inputs[1:], clip[[0, 0]])
    assert left == 1


def test_act_reads_the_goals_and_the_steps_left():
    model = perturbed(tiny(frame_stride=4))
    image, proprio, clip = frames(1, seed=7)[0], np.zeros(2, np.float32), frames(3)
    # same goals, different steps left
    assert not np.array_equal(model.act(image, proprio, clip, 0), model.act(image, proprio, clip, 3))
    # same steps left, different goals
    assert not np.array_equal(model.act(image, proprio, clip, 0), model.act(image, proprio, clip, 4))
    # past the last frame's index the clip's end repeats: a clip with its last frame doubled reads the same at t = 9
    np.testing.assert_array_equal(model.act(image, proprio, clip, 9),
                                  model.act(image, proprio, np.concatenate([clip, clip[-1:]]), 9))


def test_act_rejects_frames_of_the_wrong_size_and_steps_outside_the_clip():
    model = tiny(frame_stride=4)
    image, proprio, clip = frames(1)[0], np.zeros(2), frames(3)
    with pytest.raises(ValueError, match="32x32"):
        model.act(frames(1, size=64)[0], proprio, frames(3, size=64), 0)
    with pytest.raises(ValueError, match="shapes"):
        model.act(frames(1, size=64)[0], proprio, clip, 0)  # image and clip differ
    with pytest.raises(ValueError, match="shapes"):
        model.act(image, proprio, clip[0], 0)  # a single frame, not a clip
    with pytest.raises(ValueError, match="shapes"):
        model.act(image, proprio, clip[:0], 0)  # an empty clip
    for t in (-1, 12, 100):
        with pytest.raises(ValueError, match=f"step {t} is outside the clip's 12 steps"):
            model.act(image, proprio, clip, t)
    model.act(image, proprio, clip, 11)  # the last step is fine


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="bad goal-reaching config"):
        GoalReachingConfig(image_size=40)
    with pytest.raises(ValueError, match="bad goal-reaching config"):
        GoalReachingConfig(frame_stride=0)
    with pytest.raises(ValueError, match="unknown GoalReachingConfig"):
        GoalReachingInverseDynamics(widht=4)


def test_the_config_defaults_are_what_configs_ships():
    from pathlib import Path

    from omegaconf import OmegaConf

    root = Path(__file__).resolve().parents[2]
    shipped = OmegaConf.to_container(OmegaConf.load(root / "configs" / "invdyn" / "goal_reaching.yaml"))
    assert GoalReachingConfig().to_dict() == {k: v for k, v in shipped.items() if not k.startswith("_")}


def test_proprio_statistics_normalize_the_input_and_change_the_output():
    model = perturbed(tiny())
    image, clip, proprio = frames(1, seed=3)[0], frames(3), np.array([0.05, -0.1], np.float32)
    before = model.act(image, proprio, clip, 2)
    data = np.random.default_rng(0).normal([0.3, -0.2], [0.02, 0.05], size=(500, 2)).astype(np.float32)
    model.set_proprio_statistics(data)
    np.testing.assert_allclose(model.proprio_mean.numpy(), data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.proprio_std.numpy(), data.std(0, ddof=1), rtol=1e-4)
    after = model.act(image, proprio, clip, 2)
    assert not np.allclose(before, after)
    # normalized: proprio at the mean reads like zeros read without statistics
    fresh = perturbed(tiny())
    np.testing.assert_allclose(model.act(image, data.mean(0), clip, 2), fresh.act(image, np.zeros(2), clip, 2),
                               atol=1e-5)
    # a constant sensor does not divide by zero
    model.set_proprio_statistics(np.ones((10, 2)))
    assert torch.all(model.proprio_std > 0) and np.all(np.isfinite(model.act(image, proprio, clip, 0)))


def test_proprio_changes_the_action():
    model = perturbed(tiny())
    image, clip = frames(1, seed=3)[0], frames(3)
    assert not np.allclose(model.act(image, np.array([0.0, 0.0]), clip, 1), model.act(image, np.array([0.5, -0.5]),
                                                                                         clip, 1))


def test_save_then_load_gives_identical_actions_and_keeps_the_proprio_statistics(tmp_path):
    model = perturbed(tiny(frame_stride=2, action_dim=4, proprio_dim=3))
    model.set_proprio_statistics(np.random.default_rng(0).normal(1.0, 0.5, size=(100, 3)))
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").exists()
    loaded = GoalReachingInverseDynamics.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config and not loaded.training
    torch.testing.assert_close(loaded.proprio_mean, model.proprio_mean, rtol=0, atol=0)
    torch.testing.assert_close(loaded.proprio_std, model.proprio_std, rtol=0, atol=0)
    clip = frames(4)
    for t in (0, 3, 7):
        image, proprio = frames(1, seed=10 + t)[0], np.array([1.2, 0.4, 0.9], np.float32)
        np.testing.assert_array_equal(loaded.act(image, proprio, clip, t), model.act(image, proprio, clip, t))


# --------------------------------------------------------------------------------------------- the training data
def test_goal_steps_are_the_recorded_steps_with_goals_clamped_to_the_segment(episodes_dir):
    stride = 3
    steps = GoalSteps(episodes_dir, stride=stride, proprio_dim=2)
    store = EpisodeStore(episodes_dir, success_only=True)
    expected = [(e, end, t) for e in range(len(store)) for start, end, _ in store.segments(e)
                for t in range(start, end)]
    assert [tuple(r) for r in steps.index.tolist()] == expected
    assert steps.action_dim == 2 and len(steps) == len(expected)
    seen_left, clamped = set(), 0
    for i, (e, end, t) in enumerate(expected):
        item = steps[i]
        ep = store.episode(e)
        assert item["frames"].shape == (3, 32, 32, 3) and item["frames"].dtype == np.uint8
        assert item["proprio"].shape == (2,) and item["proprio"].dtype == np.float32
        assert item["action"].shape == (2,)
        s = int(item["steps_left"])
        assert 1 <= s <= stride
        seen_left.add(s)
        np.testing.assert_array_equal(item["frames"][0], ep["frames"][t])
        np.testing.assert_array_equal(item["frames"][1], ep["frames"][min(t + s, end)])
        np.testing.assert_array_equal(item["frames"][2], ep["frames"][min(t + s + stride, end)])
        clamped += t + s + stride > end
        np.testing.assert_array_equal(item["proprio"], ep["states"][t][:2].astype(np.float32))
        np.testing.assert_array_equal(item["action"], ep["actions"][t])
    assert seen_left == set(range(1, stride + 1))
    assert 0 < clamped < len(expected)
    np.testing.assert_array_equal(steps.all_proprio(),
                                  np.concatenate([store.episode(e)["states"][:, :2] for e in range(len(store))]))
    store.close()


def test_goal_steps_proprio_is_what_the_env_gives_agents(episodes_dir):
    """The state's first entries are the env's "proprio" observation (what the agent hands the model at run time)."""
    from sim.env import TabletopEnv

    store = EpisodeStore(episodes_dir, success_only=True)
    ep = store.episode(0)
    env = TabletopEnv(image_size=32)
    try:
        env.restore(ep["initial"])
        steps = GoalSteps(store, stride=2, proprio_dim=2)
        for t, a in enumerate(ep["actions"][:5]):
            obs, *_ = env.step(a)
            np.testing.assert_allclose(obs["proprio"], steps.proprio[0][t + 1], atol=1e-6)
    finally:
        env.close()


def test_goal_steps_can_take_goals_from_other_frames(episodes_dir):
    steps = GoalSteps(episodes_dir, stride=2, proprio_dim=2)
    inverted = [255 - f for f in steps.frames]
    steps.use_goal_frames(inverted, 1.0)
    for i in range(0, len(steps), 5):
        e, end, t = steps.index[i]
        item = steps[i]
        s = int(item["steps_left"])
        np.testing.assert_array_equal(item["frames"][0], steps.frames[e][t])  # the frame now stays the real one
        np.testing.assert_array_equal(item["frames"][1:], inverted[e][np.minimum([t + s, t + s + 2], end)])
    steps.use_goal_frames(inverted, 0.5)
    sources = []
    for i in range(len(steps)):
        e, end, t = steps.index[i]
        item = steps[i]
        s = int(item["steps_left"])
        sources.append(np.array_equal(item["frames"][1], inverted[e][min(t + s, end)]))
    assert 0.25 < np.mean(sources) < 0.75
    with pytest.raises(ValueError, match="match the recorded frames"):
        steps.use_goal_frames(inverted[:-1], 0.5)
    with pytest.raises(ValueError, match="match the recorded frames"):
        steps.use_goal_frames([f[:, :16] for f in inverted], 0.5)


def test_goal_steps_can_read_goals_where_an_imagined_clip_puts_them(episodes_dir):
    from invdyn.data import ImaginedClips

    k, horizon = 2, 3
    steps = GoalSteps(episodes_dir, stride=k, proprio_dim=2)
    seg = max(steps.segments, key=lambda s: s.end - s.start)
    starts = np.arange(seg.start, seg.end, 5)  # clips of 6 steps: t is covered by one clip or by two
    # clip i, frame j: a flat image of value 10 * i + j, so a goal names the clip and frame it came from
    clips = np.stack([np.stack([np.full(steps.frames[0].shape[1:], 10 * i + j, np.uint8) for j in range(horizon)])
                      for i in range(len(starts))])
    steps.use_imagined({seg.episode: ImaginedClips(starts, np.full(len(starts), seg.end), clips)}, 1.0)
    store = EpisodeStore(episodes_dir, success_only=True)
    assert steps.segments == [(e, a, b, sg["text"]) for e in range(len(store)) for a, b, sg in store.segments(e)]
    store.close()
    used = set()
    for i, (e, end, t) in enumerate(steps.index.tolist()):
        item = steps[i]
        np.testing.assert_array_equal(item["frames"][0], steps.frames[e][t])
        np.testing.assert_array_equal(item["action"], steps.actions[e][t])
        if e != seg.episode or end != seg.end:
            assert item["imagined"] == 0
            continue  # no clip: the recorded goals
        assert item["imagined"] == 1
        c, j = divmod(int(item["frames"][1, 0, 0, 0]), 10)
        into = t - starts[c]
        assert 0 <= into < horizon * k and j == into // k  # a clip that covers t, read where the agent reads it
        assert int(item["frames"][2, 0, 0, 0]) == 10 * c + min(j + 1, horizon - 1)
        assert int(item["steps_left"]) == k - into % k
        used.add(c)
    assert len(starts) > 2 and used == set(range(len(starts)))
    with pytest.raises(ValueError, match="do not match"):
        steps.use_imagined({len(steps.frames): ImaginedClips(starts, starts, clips)}, 1.0)
    with pytest.raises(ValueError, match="do not match"):
        steps.use_imagined({0: ImaginedClips(starts, starts, clips[:, :, :16])}, 1.0)


def test_goal_steps_refuse_bad_options(episodes_dir):
    with pytest.raises(ValueError, match="stride and proprio_dim"):
        GoalSteps(episodes_dir, stride=0, proprio_dim=2)
    with pytest.raises(ValueError, match="stride and proprio_dim"):
        GoalSteps(episodes_dir, stride=2, proprio_dim=0)
    assert len(GoalSteps(episodes_dir, stride=2, proprio_dim=2, max_episodes=1).frames) == 1


def test_goal_step_loss_is_the_mse_to_the_expert_action():
    class Constant(torch.nn.Module):
        def forward(self, frames, proprio, steps_left, imagined):
            return torch.zeros(len(frames), 2)

    batch = {"frames": torch.zeros(2, 3, 8, 8, 3, dtype=torch.uint8), "proprio": torch.zeros(2, 2),
             "steps_left": torch.tensor([1, 2]), "imagined": torch.tensor([0, 1]),
             "action": torch.tensor([[1.0, 0.0], [0.0, 2.0]])}
    loss, metrics = goal_step_loss(Constant(), batch)
    assert loss.item() == pytest.approx(5 / 4)
    assert metrics == pytest.approx({"action_0_mse": 0.5, "action_1_mse": 2.0})  # per action entry


def test_a_small_model_learns_the_expert_actions(episodes_dir):
    """Fails if the gradient does not reach the model, or the loss or the inputs are wired wrong: a few hundred
    steps must bring the loss well below that of predicting the mean action."""
    steps = GoalSteps(episodes_dir, stride=2, proprio_dim=2)
    torch.manual_seed(0)
    model = GoalReachingInverseDynamics(frame_stride=2, image_size=32, proprio_dim=2, action_dim=2, width=8, hidden=64)
    model.set_proprio_statistics(steps.all_proprio())
    held = default_collate([steps[i] for i in range(len(steps))])  # every step, with its own draw of steps_left
    baseline = float(held["action"].var(0, unbiased=False).sum() / 2)  # the mean action's MSE

    def loss_now():
        model.eval()
        with torch.no_grad():
            return goal_step_loss(model, held)[0].item()

    start = loss_now()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(200):
        loss, _ = goal_step_loss(model, default_collate([steps[i] for i in rng.integers(0, len(steps), 32)]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    end = loss_now()
    assert end < 0.2 * start and end < 0.2 * baseline, (start, baseline, end)


# --------------------------------------------------------------------------------------- dreamplan train goal_invdyn
TINY = ["model.image_size=32", "model.width=4", "model.hidden=16", "model.frame_stride=2", "model.proprio_dim=2",
        "model.action_dim=2", "trainer.batch_size=8", "trainer.checkpoint_every=3", "trainer.log_every=3",
        "trainer.warmup_steps=2"]


def test_train_command_trains_checkpoints_and_resumes(episodes_dir, tmp_path, capsys):
    run = tmp_path / "run"

    def train(steps, *extra):
        return main(["train", "goal_invdyn", f"data={episodes_dir}", f"run_dir={run}", *TINY, f"trainer.steps={steps}",
                     "trainer.ema_decay=0.9", *extra])

    assert train(6) == 0
    out = capsys.readouterr().out
    assert "step-0000006" in out and "goal-reaching inverse dynamics" in out
    assert "goal_frames_prob" in (run / "train_config.yaml").read_text()
    assert (run / "checkpoints" / "step-0000006" / "ema.safetensors").exists()
    assert train(9) == 0  # train for longer: resumes at step 6
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [3, 6, 9]
    assert all(np.isfinite(r["loss"]) and "action_1_mse" in r for r in rows)
    model = GoalReachingInverseDynamics.from_pretrained(run)  # the run dir's latest checkpoint (EMA weights)
    assert model.frame_stride == 2 and model.config.proprio_dim == 2 and model.image_size == 32
    # the training data's proprio statistics went into the checkpoint (the EMA copy and the raw weights alike)
    proprio = GoalSteps(episodes_dir, stride=2, proprio_dim=2).all_proprio()
    for m in (model, GoalReachingInverseDynamics.from_pretrained(run, ema=False)):
        np.testing.assert_allclose(m.proprio_mean.numpy(), proprio.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(m.proprio_std.numpy(), proprio.std(0, ddof=1), rtol=1e-4)
    action = model.act(np.zeros((32, 32, 3), np.uint8), proprio[0], np.zeros((3, 32, 32, 3), np.uint8), 5)
    assert action.shape == (2,) and np.all(np.isfinite(action))


def test_an_interrupted_run_resumes_to_the_same_weights(episodes_dir, tmp_path):
    """As for every other trainer (tests/training/test_trainer.py): a run stopped after its step-3 checkpoint and
    resumed to step 6 ends with the weights of the uninterrupted run."""
    import shutil

    from training.checkpoint import load_weights

    def train(run):
        assert main(["train", "goal_invdyn", f"data={episodes_dir}", f"run_dir={run}", *TINY, "trainer.steps=6",
                     "augment=null"]) == 0

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(straight)
    shutil.copytree(straight, resumed)  # as if killed right after the step-3 checkpoint
    shutil.rmtree(resumed / "checkpoints" / "step-0000006")
    assert (resumed / "checkpoints" / "step-0000003").exists()
    train(resumed)
    a = load_weights(straight / "checkpoints" / "step-0000006" / "model.safetensors")
    b = load_weights(resumed / "checkpoints" / "step-0000006" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_train_command_names_an_action_dimension_mismatch_in_one_line(episodes_dir, tmp_path, capsys):
    assert main(["train", "goal_invdyn", f"data={episodes_dir}", f"run_dir={tmp_path}", "model.image_size=32",
                 "model.proprio_dim=2", "model.action_dim=4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dreamplan: error:") and "2-D actions" in err and "model.action_dim=4" in err
    assert "\n" not in err
    assert not (tmp_path / "checkpoints").exists()


def test_train_command_reports_a_size_mismatch_in_one_line(episodes_dir, tmp_path, capsys):
    assert main(["train", "goal_invdyn", f"data={episodes_dir}", f"run_dir={tmp_path}", "model.image_size=64",
                 "model.proprio_dim=2", "model.action_dim=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dreamplan: error:") and "32px" in err and "\n" not in err


def test_goals_drawn_through_a_world_models_autoencoder(episodes_dir, tmp_path, monkeypatch, capsys):
    """goal_frames_from=<world model>: the goals are the episodes' frames encoded and decoded by its autoencoder."""
    import videomodel.world_model as world_model
    from dreamplan.train_goal_invdyn import decoded_frames
    from videomodel.autoencoder import frames_to_tensor, tensor_to_frames

    monkeypatch.setattr(world_model, "shared_text_encoder", lambda: None)  # decoding needs no text: skip MiniLM
    torch.manual_seed(0)
    wm = world_model.DiTWorldModel(
        image_size=32, horizon=2, frame_stride=2, autoencoder={"channels": [8, 8, 8], "latent_channels": 4},
        dit={"variant": "h192-d4", "hidden_size": 32, "depth": 2, "num_heads": 2, "patch_size": 2,
             "text_tokens": False}, text_encoder=object())
    with torch.no_grad():
        for p in wm.autoencoder.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    wm.save(tmp_path / "wm")

    steps = GoalSteps(episodes_dir, stride=2, proprio_dim=2)
    decoded = decoded_frames(str(tmp_path / "wm"), steps.frames[:2], batch_size=7)  # batches split episodes
    assert [d.shape for d in decoded] == [f.shape for f in steps.frames[:2]]
    assert all(d.dtype == np.uint8 for d in decoded)
    with torch.no_grad():
        ae = wm.autoencoder.eval()
        expected = tensor_to_frames(ae.decode(ae.encode(frames_to_tensor(steps.frames[0]))).clamp(-1, 1)).numpy()
    np.testing.assert_allclose(decoded[0].astype(int), expected.astype(int), atol=1)
    assert not np.array_equal(decoded[0], steps.frames[0])

    given = []
    use = GoalSteps.use_goal_frames
    monkeypatch.setattr(GoalSteps, "use_goal_frames", lambda self, g, prob: (given.append((g, prob)), use(self, g, prob)))
    run = tmp_path / "run"
    assert main(["train", "goal_invdyn", f"data={episodes_dir}", f"run_dir={run}", *TINY, "trainer.steps=3",
                 f"goal_frames_from={tmp_path / 'wm'}", "goal_frames_prob=0.7"]) == 0
    assert "step-0000003" in capsys.readouterr().out
    (goal_frames, prob), = given
    assert prob == 0.7 and len(goal_frames) == len(steps.frames)
    for a, b in zip(goal_frames, decoded_frames(str(tmp_path / "wm"), steps.frames)):
        np.testing.assert_array_equal(a, b)
    assert GoalReachingInverseDynamics.from_pretrained(run).frame_stride == 2


def test_train_command_reads_goals_from_clips_the_world_model_imagines(episodes_dir, tmp_path, monkeypatch, capsys):
    """imagined_goals_from=<world model>: clips imagined from every `every`-th recorded frame with the segment's
    text, sampled once and kept in the run dir, so a resumed run does not imagine them again."""
    import dreamplan.train_goal_invdyn as glue
    from invdyn.data import ImaginedClips
    from videomodel import world_model

    class LengthTextEncoder:  # MiniLM would do; this needs no model load and still tells texts apart
        dim = 384

        def embed(self, texts):
            return torch.stack([torch.randn(self.dim, generator=torch.Generator().manual_seed(len(t))) for t in texts])

    monkeypatch.setattr(world_model, "shared_text_encoder", LengthTextEncoder)
    torch.manual_seed(0)
    wm = world_model.DiTWorldModel(
        image_size=32, horizon=2, frame_stride=2, autoencoder={"channels": [8, 8, 8], "latent_channels": 4},
        dit={"variant": "h192-d4", "hidden_size": 32, "depth": 2, "num_heads": 2, "patch_size": 2,
             "text_tokens": False}, sampler={"name": "euler", "steps": 2})
    with torch.no_grad():
        for p in wm.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    wm.save(tmp_path / "wm")

    given, imagined = [], []
    use, imagine = GoalSteps.use_imagined, glue.imagined_clips
    monkeypatch.setattr(GoalSteps, "use_imagined", lambda self, c, prob: (given.append((c, prob)), use(self, c, prob)))
    monkeypatch.setattr(glue, "imagined_clips", lambda *a, **k: imagined.append(1) or imagine(*a, **k))
    run = tmp_path / "run"

    def train(steps):
        return main(["train", "goal_invdyn", f"data={episodes_dir}", f"run_dir={run}", *TINY, f"trainer.steps={steps}",
                     f"imagined_goals_from={tmp_path / 'wm'}", "imagined_goals_every=3", "imagined_goals_prob=0.6"])

    assert train(3) == 0 and train(6) == 0
    assert "step-0000006" in capsys.readouterr().out
    assert len(imagined) == 1 and len(list(run.glob("imagined-goals-*.npz"))) == 1
    (first, prob), (second, _) = given
    assert prob == 0.6
    steps = GoalSteps(episodes_dir, stride=2, proprio_dim=2)
    assert sorted(first) == sorted({s.episode for s in steps.segments})
    for seg in steps.segments:
        clips = first[seg.episode]
        mine = clips.ends == seg.end
        np.testing.assert_array_equal(clips.starts[mine], np.arange(seg.start, seg.end, 3))
    for e, clips in first.items():
        assert isinstance(clips, ImaginedClips) and clips.clips.shape[1:] == (2, 32, 32, 3)
        for a, b in zip(clips, second[e]):  # the resumed run read back what the first one imagined
            np.testing.assert_array_equal(a, b)
    seg = steps.segments[0]
    again = wm.imagine_each(steps.frames[seg.episode][[seg.start]], [seg.text], seed=0)  # the first batch's seed
    np.testing.assert_allclose(first[seg.episode].clips[0].astype(int), again[0].astype(int), atol=2)  # batched
