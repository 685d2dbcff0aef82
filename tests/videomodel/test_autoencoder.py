import numpy as np
import pytest
import torch

from videomodel.autoencoder import (VideoAutoencoder, frames_to_tensor, reconstruction_loss, tensor_to_frames,
                                   weighted_pixel_mask)
from videomodel.fidelity import psnr


def _squares(n: int, size: int, seed: int = 0) -> np.ndarray:
    """uint8 [n, size, size, 3]: a grey table with one colored square each, like the tabletop scenes."""
    rng = np.random.default_rng(seed)
    frames = np.full((n, size, size, 3), 120, np.uint8)
    for f in frames:
        s = size // 4
        y, x = rng.integers(0, size - s, 2)
        f[y:y + s, x:x + s] = rng.integers(0, 256, 3)
    return frames


def test_frames_tensor_round_trip_is_exact():
    frames = np.random.default_rng(0).integers(0, 256, (2, 3, 8, 8, 3), dtype=np.uint8)
    x = frames_to_tensor(frames)
    assert x.shape == (2, 3, 3, 8, 8) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert np.array_equal(tensor_to_frames(x).numpy(), frames)


def test_frames_to_tensor_rejects_float_images():
    with pytest.raises(ValueError):
        frames_to_tensor(np.zeros((8, 8, 3), np.float32))


def test_psnr():
    a = torch.zeros(2, 3, 8, 8)
    assert psnr(a, a) > 90
    # error 0.2 everywhere on a range of 2: 20 log10(2 / 0.2) = 20 dB
    assert psnr(a + 0.2, a) == pytest.approx(20.0, abs=1e-4)
    u = torch.full((1, 8, 8, 3), 100, dtype=torch.uint8)
    assert psnr(u + 51, u) == pytest.approx(20 * np.log10(255 / 51), abs=1e-4)


def test_shapes_64px_to_16x16x4():
    ae = VideoAutoencoder(channels=(8, 16, 16), latent_channels=4, image_size=64)
    assert ae.latent_shape == (4, 16, 16) and ae.downsample_factor == 4
    x = frames_to_tensor(_squares(3, 64)).reshape(1, 3, 3, 64, 64)  # leading dims kept
    z = ae.encode(x)
    assert z.shape == (1, 3, 4, 16, 16)
    assert ae.decode(z).shape == (1, 3, 3, 64, 64)


def test_calibrate_gives_unit_variance_latents_and_decode_inverts_the_normalisation():
    torch.manual_seed(0)
    ae = VideoAutoencoder(channels=(8, 8), latent_channels=4, image_size=16)
    frames = _squares(32, 16)
    with torch.no_grad():
        raw_decoded = ae.decoder(ae.encoder(frames_to_tensor(frames)))
        ae.calibrate(frames)
        z = ae.encode(frames_to_tensor(frames))
        assert torch.allclose(z.transpose(0, 1).flatten(1).mean(1), torch.zeros(4), atol=1e-4)
        assert torch.allclose(z.transpose(0, 1).flatten(1).std(1), torch.ones(4), atol=1e-3)
        assert torch.allclose(ae.decode(z), raw_decoded, atol=1e-4)
    assert "latent_scale" in ae.state_dict() and "latent_shift" in ae.state_dict()


def test_a_few_training_steps_reduce_reconstruction_error():
    torch.manual_seed(0)
    ae = VideoAutoencoder(channels=(8, 8), latent_channels=4, image_size=16)
    frames = torch.from_numpy(_squares(8, 16))
    optimizer = torch.optim.Adam(ae.parameters(), lr=1e-2)
    with torch.no_grad():
        _, before = reconstruction_loss(ae, frames)
    for _ in range(20):
        loss, _ = reconstruction_loss(ae, frames)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        _, after = reconstruction_loss(ae, frames)
    assert after["mse"] < 0.3 * before["mse"]
    assert after["psnr"] > before["psnr"] + 5


def _textured_table_with_a_moving_dot(n: int, size: int = 16) -> np.ndarray:
    """uint8 [n, size, size, 3]: a checkered table (half its pixels far from the median color) and a white
    2-pixel dot that moves one pixel right per frame."""
    frames = np.zeros((n, size, size, 3), np.uint8)
    yy, xx = np.mgrid[:size, :size]
    frames[:] = np.where(((yy // 2 + xx // 2) % 2 == 0)[..., None], 60, 180)
    for t in range(n):
        frames[t, 4:6, 2 + t:4 + t] = 255
    return frames


def test_moving_mask_marks_what_moves_on_a_textured_table_and_foreground_marks_the_texture():
    frames = _textured_table_with_a_moving_dot(8)
    moving = weighted_pixel_mask(frames, "moving")[:, 0]
    foreground = weighted_pixel_mask(frames, "foreground")[:, 0]
    assert moving.shape == (8, 16, 16)
    for t in range(8):
        assert moving[t, 4:6, 2 + t:4 + t].all()  # the dot, wherever it is
    assert moving.sum() <= 8 * 4 * 2  # and nothing of the still table but, at most, where the dot stood
    assert foreground.mean() > 0.3  # the frame's median color leaves half the texture in the foreground
    with pytest.raises(ValueError, match="weighted_pixels"):
        weighted_pixel_mask(frames, "edges")


def _train(frames: torch.Tensor, weighted: torch.Tensor, foreground_weight: float, steps: int) -> VideoAutoencoder:
    torch.manual_seed(0)
    ae = VideoAutoencoder(channels=(8, 8), latent_channels=2, image_size=16)
    optimizer = torch.optim.Adam(ae.parameters(), lr=1e-2)
    for _ in range(steps):
        loss, _ = reconstruction_loss(ae, frames, foreground_weight, weighted=weighted)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return ae


def test_weighting_the_moving_pixels_reconstructs_them_better():
    frames = torch.from_numpy(_textured_table_with_a_moving_dot(8))
    weighted = weighted_pixel_mask(frames.numpy(), "moving")[:, 0]
    x = frames_to_tensor(frames)
    errors = []
    for foreground_weight in (1.0, 30.0):
        ae = _train(frames, weighted, foreground_weight, steps=60)
        with torch.no_grad():
            error = (ae(x)[0].float() - x).pow(2).mean(dim=1)
        errors.append(float(error[weighted.bool()].mean()))
    assert errors[1] < 0.5 * errors[0]


def test_save_load_round_trip(tmp_path):
    ae = VideoAutoencoder(channels=(8, 8), latent_channels=4, image_size=16)
    ae.calibrate(_squares(8, 16))
    ae.save(tmp_path / "ae")
    loaded = VideoAutoencoder.from_pretrained(tmp_path / "ae")
    x = frames_to_tensor(_squares(2, 16, seed=1))
    with torch.no_grad():
        assert torch.equal(ae.eval().encode(x), loaded.encode(x))
