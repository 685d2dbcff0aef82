"""`dreamplan train videomodel` and `train autoencoder` on real (tiny) episodes: the cells and pixels the losses
weigh, and continuing from a saved world model (`init_from`)."""

import pytest
import torch

from dreamplan.cli import main
from sim.dataset import EpisodeStore
from sim.detector import BLOCK_TOP, detect_blocks, world_to_pixel
from videomodel.data import LatentClips
from videomodel.latent_cache import autoencoder_fingerprint, load_latents
from videomodel.objectives import FlowMatching, masked_mse
from videomodel.world_model import DiTWorldModel

from .conftest import TINY_WORLD, record_episodes as _record


def test_foreground_cells_weigh_more():
    prediction, target = torch.zeros(1, 2, 4, 4, 4), torch.zeros(1, 2, 4, 4, 4)
    foreground = torch.zeros(1, 2, 4, 4)
    foreground[:, :, 0, 0] = 1
    target[:, 1, :, 0, 0] = 1.0  # the error sits on the one foreground cell of the generated frame
    plain = masked_mse(prediction, target, 1)
    weighted = masked_mse(prediction, target, 1, foreground, foreground_weight=4.0)
    assert plain == pytest.approx(1 / 16)
    assert weighted == pytest.approx(4 / (15 + 4))  # normalised by the mean weight
    assert masked_mse(prediction, target, 1, foreground, foreground_weight=1.0) == plain
    x0 = torch.randn(2, 3, 4, 4, 4)
    loss = FlowMatching(foreground_weight=4.0).loss(lambda x, t: torch.zeros_like(x), x0, 1, torch.ones(2, 3, 4, 4))
    assert torch.isfinite(loss)


def test_latent_clips_mark_the_cells_under_blocks_and_pusher(tmp_path, hash_text_encoder):
    data = _record(tmp_path, 64)
    model = DiTWorldModel(**{**TINY_WORLD, "image_size": 64}, text_encoder=hash_text_encoder)  # 16x16 latents
    clips = LatentClips(data, model.encode_frames, horizon=3, stride=4)
    item = clips[0]
    assert item["foreground"].shape == (4, 16, 16) and item["latents"].shape[:2] == (4, 4)
    assert set(item["foreground"].unique().tolist()) <= {0.0, 1.0}
    first = clips.foreground[0][0]
    assert 0.05 < float(first.float().mean()) < 0.5  # blocks, pusher and the table's edge, not the table
    store = EpisodeStore(data)
    frame = store.group(0)["frames"][0]
    store.close()
    for detection in detect_blocks(frame):
        col, row = world_to_pixel(detection.xy, BLOCK_TOP, 64)
        assert first[int(row + 0.5) // 4, int(col + 0.5) // 4]  # the cell of every block's centre


def test_latent_clips_may_keep_only_clips_that_end_inside_their_subgoal(episodes_16px, hash_text_encoder):
    model = DiTWorldModel(**TINY_WORLD, text_encoder=hash_text_encoder)
    every = LatentClips(episodes_16px, model.encode_frames, horizon=3, stride=4)
    inside = LatentClips(episodes_16px, model.encode_frames, horizon=3, stride=4, past_end=False)
    span = 3 * 4
    assert any(t + span > end for _, _, end, t in every.index)  # the default keeps clips that rest at the end
    assert 0 < len(inside) < len(every) and set(inside.index) <= set(every.index)
    for e, s, end, t in inside.index:
        assert t + span <= end or (t == s and end - s < span)
    segments = {(e, s) for e, s, _, _ in every.index}
    assert {(e, s) for e, s, _, _ in inside.index} == segments  # every subgoal segment still has a clip
    item = inside[len(inside) - 1]
    assert not torch.equal(item["latents"][-1], item["latents"][-2])  # its last frames are not the rest repeated


def test_latent_clips_read_their_encoded_frames_back_from_the_cache(episodes_16px, tmp_path, hash_text_encoder):
    model = DiTWorldModel(**TINY_WORLD, text_encoder=hash_text_encoder)
    cache = tmp_path / "latents" / f"{autoencoder_fingerprint(model.autoencoder)}.safetensors"
    encoded = LatentClips(episodes_16px, model.encode_frames, horizon=3, stride=4, cache_file=cache)
    assert cache.exists() and not list(cache.parent.glob(".*.tmp*"))  # no temp file left (training.atomic)

    def never(frames):
        raise AssertionError("the cache holds these frames: nothing should be encoded")

    read = LatentClips(episodes_16px, never, horizon=3, stride=4, cache_file=cache)
    assert all(torch.equal(a, b) for a, b in zip(read.latents, encoded.latents))
    assert all(torch.equal(a, b) for a, b in zip(read.foreground, encoded.foreground))
    assert len(read.latents) == len(encoded.latents) and read.index == encoded.index
    cache.write_bytes(cache.read_bytes()[:100])  # a damaged cache is rebuilt, not trusted
    calls = []
    rebuilt = LatentClips(episodes_16px, lambda f: calls.append(1) or model.encode_frames(f), horizon=3, stride=4,
                          cache_file=cache)
    assert calls and all(torch.equal(a, b) for a, b in zip(rebuilt.latents, encoded.latents))
    assert load_latents(cache, EpisodeStore(episodes_16px).refs) is not None


def test_a_latent_cache_belongs_to_one_autoencoder_and_one_dataset(episodes_16px, tmp_path, hash_text_encoder):
    model = DiTWorldModel(**TINY_WORLD, text_encoder=hash_text_encoder)
    before = autoencoder_fingerprint(model.autoencoder)
    with torch.no_grad():
        model.autoencoder.latent_scale.mul_(2)  # a recalibrated autoencoder encodes differently
    assert autoencoder_fingerprint(model.autoencoder) != before
    cache = tmp_path / "cache.safetensors"
    LatentClips(episodes_16px, model.encode_frames, horizon=3, stride=4, cache_file=cache)
    assert load_latents(cache, EpisodeStore(episodes_16px).refs) is not None
    other = _record(tmp_path / "other", 16, task="push_to_corner")  # the same shard names, other episodes
    assert load_latents(cache, EpisodeStore(other).refs) is None


def _args(data, run, init):
    return ["train", "videomodel", f"data={data}", f"run_dir={run}", f"init_from={init}", "model.image_size=16",
            "model.horizon=3", "model.autoencoder.channels=[8,8,8]", "++model.dit.hidden_size=32", "++model.dit.depth=2",
            "++model.dit.num_heads=2", "++model.objective.foreground_weight=3", "trainer.steps=2",
            "trainer.batch_size=2", "trainer.checkpoint_every=2", "trainer.log_every=1", "trainer.warmup_steps=0"]


def test_train_videomodel_continues_from_a_saved_world_model(episodes_16px, tmp_path, hash_text_encoder, capsys):
    saved = DiTWorldModel(**TINY_WORLD, text_encoder=hash_text_encoder)
    torch.nn.init.normal_(saved.dit.final_layer.linear.weight)  # not the zero init of a fresh DiT
    saved.save(tmp_path / "saved")
    # it may also switch what the DiT generates (the saved model generated whole frames)
    assert main([*_args(episodes_16px, tmp_path / "run", tmp_path / "saved"), "model.predict_change=true",
                 "model.dit.text_tokens=false"]) == 0
    trained = DiTWorldModel.from_pretrained(tmp_path / "run", ema=False)
    assert trained.config.objective.foreground_weight == 3
    assert trained.predict_change and not saved.predict_change
    start = saved.dit.final_layer.linear.weight
    after = trained.dit.final_layer.linear.weight
    assert not torch.equal(after, start) and (after - start).abs().max() < 0.1  # trained on from it, a little
    frozen = saved.autoencoder.state_dict()
    assert all(torch.equal(v, frozen[k]) for k, v in trained.autoencoder.state_dict().items())
    # cross-attention to the text's tokens may be added: the saved weights stay, the new layers start at zero
    assert main([*_args(episodes_16px, tmp_path / "tokens", tmp_path / "run"), "model.predict_change=true",
                 "++model.dit.text_tokens=true"]) == 0
    grown = DiTWorldModel.from_pretrained(tmp_path / "tokens", ema=False)
    assert grown.dit.text_tokens and grown.predict_change
    assert (grown.dit.final_layer.linear.weight - after).abs().max() < 0.1
    assert 0 < grown.dit.blocks[0].cross_attn.proj.weight.abs().max() < 0.1
    capsys.readouterr()
    assert main([*_args(episodes_16px, tmp_path / "other", tmp_path / "saved"), "++model.dit.depth=3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "init_from" in err[0] and "dit" in err[0]


def test_latent_clips_may_weigh_the_cells_that_move_instead(tmp_path, hash_text_encoder):
    data = _record(tmp_path, 64)
    model = DiTWorldModel(**{**TINY_WORLD, "image_size": 64}, text_encoder=hash_text_encoder)
    foreground = LatentClips(data, model.encode_frames, horizon=3, stride=4).foreground[0]
    moving = LatentClips(data, model.encode_frames, horizon=3, stride=4, weighted_pixels="moving").foreground[0]
    assert moving.float().mean() < 0.5 * foreground.float().mean()
    store = EpisodeStore(data)
    frames = store.group(0)["frames"]
    first, last = detect_blocks(frames[0]), detect_blocks(frames[-1])
    store.close()
    still = [a for a in first if min(abs(complex(*a.xy) - complex(*b.xy)) for b in last) < 0.003]
    assert still and len(still) < len(first)  # the task pushed one block, the others stood
    for detection in still:  # a block that stands is foreground but does not move
        col, row = world_to_pixel(detection.xy, BLOCK_TOP, 64)
        cell = int(row + 0.5) // 4, int(col + 0.5) // 4
        assert foreground[0][cell] and not moving[0][cell]


def test_train_autoencoder_takes_the_moving_pixels_and_refuses_an_unknown_mask(episodes_16px, tmp_path, capsys):
    args = ["train", "autoencoder", f"data={episodes_16px}", "model.image_size=16", "model.channels=[8,8]",
            "trainer.steps=2", "trainer.batch_size=4", "trainer.checkpoint_every=2", "trainer.warmup_steps=0"]
    assert main([*args, f"run_dir={tmp_path / 'moving'}", "weighted_pixels=moving"]) == 0
    assert (tmp_path / "moving" / "final" / "model.safetensors").exists()
    capsys.readouterr()
    assert main([*args, f"run_dir={tmp_path / 'edges'}", "weighted_pixels=edges"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "weighted_pixels" in err[0]
