"""The video compressor: a per-frame convolutional autoencoder between pixels and the DiT's latent space.

    uint8 [..., 64, 64, 3] --frames_to_tensor--> float [..., 3, 64, 64] in [-1, 1]
                           --encode--> float [..., 4, 16, 16]   (normalised: ~zero mean, unit variance per channel)
                           --decode--> float [..., 3, 64, 64] --tensor_to_frames--> uint8 [..., 64, 64, 3]

Each stride-2 stage halves the resolution: `channels=[16, 32, 64]` (the default) has two, a downsample factor of 4.
Training (stage 1): `reconstruction_loss(model, frames)`; then `calibrate(frames)` sets the `latent_shift` /
`latent_scale` buffers from data, so `encode` hands the diffusion model unit-variance latents.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training.checkpoint import load_model, save_model
from videomodel.config import AutoencoderConfig
from videomodel.fidelity import changed_pixels, psnr


def frames_to_tensor(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> float32 [..., 3, H, W] in [-1, 1]."""
    x = frames if isinstance(frames, torch.Tensor) else torch.as_tensor(np.asarray(frames))
    if x.dtype != torch.uint8 or x.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [..., H, W, 3], got {x.dtype} {tuple(x.shape)}")
    return x.movedim(-1, -3).float().div(127.5).sub(1.0)


def tensor_to_frames(x: torch.Tensor) -> torch.Tensor:
    """float [..., 3, H, W] in [-1, 1] (clipped) -> uint8 [..., H, W, 3]."""
    return x.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).movedim(-3, -1)


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.body = nn.Sequential(_group_norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
                                  _group_norm(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _encoder(channels: tuple[int, ...], latent_channels: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 3, padding=1)]
    c_prev = channels[0]
    for i, c in enumerate(channels):
        layers.append(ResBlock(c_prev, c))
        if i < len(channels) - 1:
            layers.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        c_prev = c
    layers += [_group_norm(c_prev), nn.SiLU(), nn.Conv2d(c_prev, latent_channels, 3, padding=1)]
    return nn.Sequential(*layers)


def _decoder(channels: tuple[int, ...], latent_channels: int) -> nn.Sequential:
    reversed_channels = channels[::-1]
    layers: list[nn.Module] = [nn.Conv2d(latent_channels, reversed_channels[0], 3, padding=1)]
    c_prev = reversed_channels[0]
    for i, c in enumerate(reversed_channels):
        layers.append(ResBlock(c_prev, c))
        if i < len(channels) - 1:
            layers.append(Upsample(c))
        c_prev = c
    layers += [_group_norm(c_prev), nn.SiLU(), nn.Conv2d(c_prev, 3, 3, padding=1)]
    return nn.Sequential(*layers)


class VideoAutoencoder(nn.Module):
    """Frames are compressed one at a time (no temporal mixing): the DiT models time."""

    def __init__(self, config: AutoencoderConfig | dict | None = None, **options):
        """From an AutoencoderConfig (videomodel.config) or its fields as keyword arguments (a Hydra `_target_`)."""
        super().__init__()
        self.config = config = AutoencoderConfig.from_args(config, options)
        channels, latent_channels = tuple(config.channels), config.latent_channels
        self.latent_channels, self.image_size = latent_channels, config.image_size
        self.downsample_factor = 2 ** (len(channels) - 1)
        self.latent_size = self.image_size // self.downsample_factor
        self.latent_penalty = config.latent_penalty
        self.encoder = _encoder(channels, latent_channels)
        self.decoder = _decoder(channels, latent_channels)
        # set by `calibrate`; saved with the weights
        self.register_buffer("latent_shift", torch.zeros(latent_channels))
        self.register_buffer("latent_scale", torch.ones(latent_channels))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.latent_channels, self.latent_size, self.latent_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, 3, H, W] in [-1, 1] -> (reconstruction [N, 3, H, W], raw latents [N, C, h, w]) for training."""
        z = self.encoder(x)
        return self.decoder(z), z

    def _per_frame(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-3]
        # channels-last convolutions run 1.3-2.5x faster on this CPU (oneDNN's native layout)
        y = net(x.reshape(-1, *x.shape[-3:]).contiguous(memory_format=torch.channels_last))
        return y.reshape(*lead, *y.shape[-3:])

    def _channel_view(self, v: torch.Tensor) -> torch.Tensor:
        return v.view(-1, 1, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """float [..., 3, H, W] in [-1, 1] -> normalised latents [..., C, h, w]."""
        z = self._per_frame(self.encoder, x)
        return (z - self._channel_view(self.latent_shift)) / self._channel_view(self.latent_scale)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """normalised latents [..., C, h, w] -> float [..., 3, H, W] (about [-1, 1], not clipped)."""
        z = z * self._channel_view(self.latent_scale) + self._channel_view(self.latent_shift)
        return self._per_frame(self.decoder, z)

    @torch.no_grad()
    def calibrate(self, frames: torch.Tensor | np.ndarray, batch_size: int = 256) -> None:
        """Set latent_shift/latent_scale to the per-channel mean/std of the raw latents of uint8 `frames`
        [..., H, W, 3] (a few thousand frames from the training data are plenty)."""
        frames = frames if isinstance(frames, torch.Tensor) else torch.as_tensor(np.asarray(frames))
        frames = frames.reshape(-1, *frames.shape[-3:])
        device = self.latent_shift.device
        latents = torch.cat([self.encoder(frames_to_tensor(frames[i:i + batch_size]).to(device))
                             for i in range(0, len(frames), batch_size)])
        latents = latents.transpose(0, 1).flatten(1).double()
        self.latent_shift.copy_(latents.mean(1).float())
        self.latent_scale.copy_(latents.std(1).clamp(min=1e-6).float())

    # ---------------------------------------------------------------------------------- checkpoints
    def save(self, directory: str | Path) -> Path:
        return save_model(directory, self.state_dict(), self.config.to_dict())

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "cpu", ema: bool = True) -> "VideoAutoencoder":
        build = lambda config: cls(AutoencoderConfig.from_dict(config, saved=True))  # noqa: E731
        return load_model(path, build, "a video autoencoder", ema).to(device).eval()

    load = from_pretrained


def foreground_mask(x: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] frames in [-1, 1] -> [N, 1, H, W] float: 1 where a pixel is unlike the frame's median color
    (everything but the table: blocks, the pusher, the table's edge)."""
    background = x.flatten(2).median(dim=2).values[..., None, None]
    return ((x - background).abs().amax(dim=1, keepdim=True) > 0.1).float()


def episode_moving_mask(frames: np.ndarray) -> np.ndarray:
    """bool [T, H, W] for the uint8 frames [T, H, W, 3] of one episode: where a pixel is unlike its own (lower)
    median over the episode by more than 0.1 of the [-1, 1] range in some channel (what moves: a gripper, the
    objects it moves, and where they stood). On a textured table the frame's median color marks the texture,
    not the parts that matter."""
    background = np.percentile(frames, 50, axis=0, method="lower")
    return changed_pixels(frames, background, threshold=0.1 * 127.5)


WEIGHTED_PIXELS = ("foreground", "moving")  # foreground_mask, episode_moving_mask


def weighted_pixel_mask(frames: np.ndarray, weighted_pixels: str) -> torch.Tensor:
    """uint8 frames [T, H, W, 3] of one episode -> [T, 1, H, W] float mask of the pixels a loss weighs more."""
    if weighted_pixels not in WEIGHTED_PIXELS:
        raise ValueError(f"weighted_pixels={weighted_pixels!r}: expected one of {list(WEIGHTED_PIXELS)}")
    if weighted_pixels == "foreground":
        return foreground_mask(frames_to_tensor(frames))
    return torch.from_numpy(episode_moving_mask(np.asarray(frames)))[:, None].float()


def reconstruction_loss(model: nn.Module, frames: torch.Tensor, foreground_weight: float = 1.0,
                        weighted: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """L1 + MSE between uint8 `frames` [..., H, W, 3] and their reconstruction, plus a small L2 on the raw
    latents (keeps their scale from drifting, so `calibrate` stays meaningful). The pixels of `weighted`
    [..., H, W] (default: those unlike the frame's median color -- on the tabletop everything but the table:
    blocks, the 3-pixel pusher) weigh `foreground_weight` times more, or the loss is content to blur small
    objects away. Calls `model(...)` so it works through a DDP wrapper."""
    x = frames_to_tensor(frames).reshape(-1, 3, *frames.shape[-3:-1])
    x = x.to(next(model.parameters()).device)
    reconstruction, z = model(x)
    reconstruction = reconstruction.float()
    mask = foreground_mask(x) if weighted is None else weighted.reshape(-1, 1, *x.shape[-2:]).to(x)
    weight = 1.0 + (foreground_weight - 1.0) * mask
    weight = weight / weight.mean()
    l1 = ((reconstruction - x).abs() * weight).mean()
    mse = ((reconstruction - x).pow(2) * weight).mean()
    penalty = getattr(model, "module", model).latent_penalty
    loss = l1 + mse + penalty * z.float().pow(2).mean()
    with torch.no_grad():
        metrics = {"l1": float(l1), "mse": float(mse), "psnr": psnr(reconstruction.clamp(-1, 1), x)}
    return loss, metrics
