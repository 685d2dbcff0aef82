import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from dreamplan.protocols import VideoModel
from training.checkpoint import CheckpointError
from videomodel.autoencoder import VideoAutoencoder
from videomodel.world_model import DiTWorldModel


def _image(seed: int = 0, size: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _clips(b: int = 2, frames: int = 4, size: int = 16) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(1).integers(0, 256, (b, frames, size, size, 3), dtype=np.uint8))


def _perturb(model: DiTWorldModel) -> DiTWorldModel:
    """Move the DiT off its adaLN-Zero init (where every output is 0 and save/load could not fail visibly)."""
    torch.manual_seed(3)
    with torch.no_grad():
        for p in model.dit.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.fixture
def world(tiny_world_config, hash_text_encoder) -> DiTWorldModel:
    torch.manual_seed(0)
    return _perturb(DiTWorldModel(**tiny_world_config, text_encoder=hash_text_encoder))


def test_imagine_shapes_and_the_video_model_protocol(world):
    clips = world.imagine(_image(), "push the red block to the left", num_samples=3, seed=0)
    assert clips.shape == (3, 3, 16, 16, 3) and clips.dtype == np.uint8
    assert isinstance(world, VideoModel) and world.frame_stride == 4
    assert not np.array_equal(clips[0], clips[1])  # K different samples


def test_imagine_is_reproducible_with_a_seed(world):
    a = world.imagine(_image(), "push", 2, seed=7)
    assert np.array_equal(a, world.imagine(_image(), "push", 2, seed=7))
    assert not np.array_equal(a, world.imagine(_image(), "push", 2, seed=8))
    assert world.imagine(_image(), "push", 1).shape == (1, 3, 16, 16, 3)  # no seed: global generator


def test_imagine_depends_on_the_image_and_the_text(world):
    base = world.imagine(_image(0), "push the red block up", 1, seed=0)
    assert not np.array_equal(base, world.imagine(_image(1), "push the red block up", 1, seed=0))
    assert not np.array_equal(base, world.imagine(_image(0), "push the blue block down", 1, seed=0))


def test_imagine_each_gives_one_clip_per_image_and_text(world):
    image, other = _image(0), _image(1)
    same = world.imagine_each(np.stack([image, image]), ["push", "push"], seed=5)
    assert np.array_equal(same, world.imagine(image, "push", 2, seed=5))  # as K clips of one image
    mixed = world.imagine_each(np.stack([image, other]), ["push", "pull"], seed=5)
    assert mixed.shape == (2, 3, 16, 16, 3) and mixed.dtype == np.uint8
    assert np.array_equal(mixed[0], same[0]) and not np.array_equal(mixed[1], same[1])
    with pytest.raises(ValueError, match="one text per image"):
        world.imagine_each(np.stack([image, other]), ["push"])
    with pytest.raises(ValueError):
        world.imagine_each(image, ["push"])


def test_imagine_rejects_bad_images(world):
    with pytest.raises(ValueError):
        world.imagine(_image(size=32), "push", 1)
    with pytest.raises(ValueError):
        world.imagine(_image().astype(np.float32), "push", 1)


def test_imagine_restores_training_mode_and_keeps_the_autoencoder_frozen(world):
    world.train()
    world.imagine(_image(), "push", 1, seed=0)
    assert world.training and world.dit.training and not world.autoencoder.training
    assert not any(p.requires_grad for p in world.autoencoder.parameters())


@pytest.mark.parametrize("objective, sampler", [({"name": "flow_matching"}, {"name": "heun", "steps": 3}),
                                                ({"name": "ddpm_eps"}, {"name": "ddim", "steps": 3})])
def test_other_objectives_and_samplers(tiny_world_config, hash_text_encoder, objective, sampler):
    model = DiTWorldModel(**{**tiny_world_config, "objective": objective, "sampler": sampler},
                          text_encoder=hash_text_encoder)
    assert model.imagine(_image(), "push", 2, seed=0).shape == (2, 3, 16, 16, 3)
    assert torch.isfinite(model(_clips(), ["a", "b"]))


def test_bf16_inference_runs(tiny_world_config, hash_text_encoder):
    model = DiTWorldModel(**{**tiny_world_config, "inference_dtype": "bfloat16"}, text_encoder=hash_text_encoder)
    assert model.imagine(_image(), "push", 2, seed=0).shape == (2, 3, 16, 16, 3)


def test_loss_from_frames_equals_loss_from_precomputed_latents(world):
    clips, texts = _clips(), ["push the red block up", "push the blue block down"]
    torch.manual_seed(5)
    from_frames = world(clips, texts)
    torch.manual_seed(5)
    from_latents = world(latents=world.encode_frames(clips), texts=world.embed_texts(texts))
    assert from_frames.ndim == 0 and torch.allclose(from_frames, from_latents)
    assert world.encode_frames(clips).shape == (2, 4, 4, 4, 4)


def test_loss_trains_the_dit_only(world):
    world.train()
    world(_clips(frames=3), ["a", "b"]).backward()  # fewer future frames than the horizon are fine
    assert all(p.grad is not None for p in world.dit.parameters())
    assert all(p.grad is None for p in world.autoencoder.parameters())
    with pytest.raises(ValueError):
        world(_clips(frames=5), ["a", "b"])  # more than 1 + horizon
    with pytest.raises(ValueError):
        world(_clips(), ["only one text"])


def test_trained_on_one_clip_the_sampler_reproduces_it(tiny_world_config, hash_text_encoder):
    """Training objective and sampler agree on time direction and prediction: after overfitting one latent
    clip, sampling from its first frame lands near the rest of it."""
    torch.manual_seed(0)
    config = {**tiny_world_config, "dit": {**tiny_world_config["dit"], "hidden_size": 64, "p_uncond": 0.0},
              "cfg_scale": 1.0, "sampler": {"name": "euler", "steps": 8}}
    model = DiTWorldModel(**config, text_encoder=hash_text_encoder)
    clip = torch.randn(1, 4, 4, 4, 4)
    text = hash_text_encoder.embed(["push"])
    optimizer = torch.optim.AdamW(model.dit.parameters(), lr=3e-3)
    for _ in range(300):
        loss = model(latents=clip.expand(8, -1, -1, -1, -1), texts=text.expand(8, -1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        sampled = model.sample_latents(clip[:, :1].expand(4, -1, -1, -1, -1), text.expand(4, -1),
                                       generator=torch.Generator().manual_seed(0))
    assert torch.equal(sampled[:, :1], clip[:, :1].expand(4, -1, -1, -1, -1))
    error = (sampled[:, 1:] - clip[:, 1:]).abs().mean()
    assert error < 0.25 * clip[:, 1:].abs().mean(), float(error)


def test_predict_change_generates_frames_minus_the_context_and_adds_it_back(tiny_world_config, hash_text_encoder):
    """At adaLN-Zero init every velocity is 0, so Euler returns its starting noise: as the clip itself, or, with
    predict_change, as the change from the context (the context added to it). The loss sees the change."""
    torch.manual_seed(0)
    absolute = DiTWorldModel(**tiny_world_config, text_encoder=hash_text_encoder)
    change = DiTWorldModel(**{**tiny_world_config, "predict_change": True}, text_encoder=hash_text_encoder)
    change.load_state_dict(absolute.state_dict())
    context, text = torch.randn(2, 1, 4, 4, 4), hash_text_encoder.embed(["push"]).expand(2, -1)
    a = absolute.sample_latents(context, text, generator=torch.Generator().manual_seed(5))
    c = change.sample_latents(context, text, generator=torch.Generator().manual_seed(5))
    assert torch.equal(c[:, :1], context) and torch.allclose(c[:, 1:], a[:, 1:] + context)

    still = context.expand(-1, 4, -1, -1, -1)  # nothing moves
    assert torch.equal(change.to_diffused(still)[:, 1:], torch.zeros(2, 3, 4, 4, 4))
    assert torch.allclose(change.from_diffused(change.to_diffused(a)), a)
    # a zero prediction has loss E[(noise - x0)^2]: about 1 on a still clip's zero change, about 2 on the clip
    torch.manual_seed(1)
    with torch.no_grad():
        loss_change = float(change(latents=still.repeat(64, 1, 1, 1, 1), texts=text.repeat(64, 1)))
        loss_absolute = float(absolute(latents=still.repeat(64, 1, 1, 1, 1), texts=text.repeat(64, 1)))
    assert abs(loss_change - 1.0) < 0.1 and loss_absolute > 1.5, (loss_change, loss_absolute)


def test_a_world_model_with_text_tokens_imagines_from_the_subgoal_words(tiny_world_config, hash_text_encoder, tmp_path):
    config = {**tiny_world_config, "dit": {**tiny_world_config["dit"], "text_tokens": True}}
    torch.manual_seed(0)
    model = _perturb(DiTWorldModel(**config, text_encoder=hash_text_encoder))
    condition = model.text_condition(["push the red cube left", "x"])
    assert condition["text_tokens"].shape == (2, 5, 384) and condition["text_mask"].sum(1).tolist() == [5, 1]
    clips = model.imagine(_image(), "push the red cube left", num_samples=2, seed=0)
    assert clips.shape == (2, 3, 16, 16, 3)
    # the same sentence embedding with another word's state ("right" for "left") imagines something else
    context = model.encode_frames(_image()[None, None])
    first = {k: v[:1] for k, v in condition.items()}
    swapped = dict(first, text_tokens=torch.cat([first["text_tokens"][:, :4], hash_text_encoder.embed(["right"])[None]], 1))
    a = model.sample_latents(context, generator=torch.Generator().manual_seed(0), **first)
    b = model.sample_latents(context, generator=torch.Generator().manual_seed(0), **swapped)
    assert not torch.allclose(a, b)
    assert model(_clips(), ["a b", "c"]).ndim == 0
    with pytest.raises(ValueError, match="strings"):
        model(_clips(), hash_text_encoder.embed(["a", "b"]))
    model.save(tmp_path / "tokens")
    loaded = DiTWorldModel.from_pretrained(tmp_path / "tokens", text_encoder=hash_text_encoder)
    assert loaded.dit.text_tokens
    assert np.array_equal(loaded.imagine(_image(), "push the red cube left", 2, seed=0), clips)


def test_save_load_round_trip(world, tmp_path, hash_text_encoder):
    world.save(tmp_path / "wm")
    config = json.loads((tmp_path / "wm" / "config.json").read_text())["model"]
    assert config["horizon"] == 3 and config["dit"]["hidden_size"] == 32
    loaded = DiTWorldModel.load(tmp_path / "wm", text_encoder=hash_text_encoder)
    assert set(loaded.state_dict()) == set(world.state_dict())
    assert not any("text" in k and "y_embedder" not in k for k in loaded.state_dict())  # no MiniLM weights
    for k, v in world.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    assert np.array_equal(world.imagine(_image(), "push", 2, seed=3), loaded.imagine(_image(), "push", 2, seed=3))
    world.train(), loaded.train()  # same text dropout draws
    torch.manual_seed(1)
    a = world(_clips(), ["a", "b"])
    torch.manual_seed(1)
    assert torch.equal(a, loaded(_clips(), ["a", "b"]))


def test_load_a_training_run_prefers_ema_weights_and_accepts_sampling_overrides(world, tmp_path, hash_text_encoder):
    step = tmp_path / "run" / "checkpoints" / "step-0000020"
    world.save(step)
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in world.state_dict().items()}
    save_file({k: v.contiguous() for k, v in ema.items()}, str(step / "ema.safetensors"))
    world.save(tmp_path / "run" / "checkpoints" / "step-0000010")  # older
    loaded = DiTWorldModel.from_pretrained(tmp_path / "run", text_encoder=hash_text_encoder, cfg_scale=1.0,
                                           sampler={"name": "heun", "steps": 2}, frame_stride=4, horizon=3)
    key = "dit.final_layer.linear.bias"
    assert torch.equal(loaded.state_dict()[key], ema[key])
    assert loaded.cfg_scale == 1.0 and loaded.sampler.steps == 2
    raw = DiTWorldModel.from_pretrained(tmp_path / "run", ema=False, text_encoder=hash_text_encoder)
    assert torch.equal(raw.state_dict()[key], world.state_dict()[key])
    with pytest.raises(CheckpointError):
        DiTWorldModel.from_pretrained(tmp_path / "run", text_encoder=hash_text_encoder, frame_stride=2)


def test_load_errors_are_checkpoint_errors(tmp_path, world):
    with pytest.raises(CheckpointError):
        DiTWorldModel.load(tmp_path / "nothing-here")
    world.save(tmp_path / "wm")
    (tmp_path / "wm" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError):
        DiTWorldModel.load(tmp_path / "wm")


def test_from_autoencoder_starts_stage_two_on_the_trained_compressor(tmp_path, hash_text_encoder):
    ae = VideoAutoencoder(channels=(8, 8, 8), latent_channels=4, image_size=16)
    ae.calibrate(_clips().reshape(-1, 16, 16, 3))
    ae.save(tmp_path / "ae")
    model = DiTWorldModel.from_autoencoder(tmp_path / "ae", horizon=3, dit={"variant": "h192-d4", "hidden_size": 32,
                                           "depth": 1, "num_heads": 2}, text_encoder=hash_text_encoder)
    for k, v in ae.state_dict().items():
        assert torch.equal(model.autoencoder.state_dict()[k], v)
    assert model.image_size == 16 and model.dit.in_channels == 4 and model.dit.max_frames == 4
