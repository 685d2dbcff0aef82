"""Training objectives: how a clean clip becomes a noisy input, and what the network must predict.

Time convention for every objective: t in [0, 1], t = 0 is data, t = 1 is (almost) pure noise; the network
sees t itself. The first `num_context` frames are given clean at every t and excluded from the loss. Latent
cells under a block or the pusher (`foreground` [B, F, h, w], 1 there) weigh `foreground_weight` times more:
they are a tenth of the clip, and a loss that weighs every cell alike is content to let a block fade away.

    FlowMatching      x_t = (1 - t) x0 + t noise,   predict the velocity  noise - x0     (samplers: euler, heun)
    EpsilonDiffusion  x_t = sqrt(a(t)) x0 + sqrt(1 - a(t)) noise, cosine a(t), predict noise  (sampler: ddim)
"""

from __future__ import annotations

import math
from typing import Callable

import torch

# model_fn(x [B, F, C, H, W], t [B]) -> prediction [B, F, C, H, W]
ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def with_clean_context(x_noisy: torch.Tensor, x_clean: torch.Tensor, num_context: int) -> torch.Tensor:
    return torch.cat([x_clean[:, :num_context], x_noisy[:, num_context:]], dim=1)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, num_context: int,
               foreground: torch.Tensor | None = None, foreground_weight: float = 1.0) -> torch.Tensor:
    err = (prediction.float() - target.float())[:, num_context:].pow(2)
    if foreground is None or foreground_weight == 1.0:
        return err.mean()
    weight = 1.0 + (foreground_weight - 1.0) * foreground[:, num_context:, None].float()
    return (err * weight).mean() / weight.mean()


class FlowMatching:
    """Rectified flow: straight paths from data to noise; t ~ logit-normal (more weight mid-path) or uniform."""

    prediction = "velocity"

    def __init__(self, time_sampling: str = "logit_normal", logit_mean: float = 0.0, logit_std: float = 1.0,
                 foreground_weight: float = 1.0):
        if time_sampling not in ("logit_normal", "uniform"):
            raise ValueError(f"time_sampling must be 'logit_normal' or 'uniform', got {time_sampling!r}")
        self.time_sampling, self.logit_mean, self.logit_std = time_sampling, float(logit_mean), float(logit_std)
        self.foreground_weight = float(foreground_weight)

    def sample_t(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        if self.time_sampling == "uniform":
            return torch.rand(n, device=device)
        return torch.sigmoid(self.logit_mean + self.logit_std * torch.randn(n, device=device))

    @staticmethod
    def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.view(-1, *([1] * (x0.dim() - 1)))
        return (1 - t) * x0 + t * noise

    def loss(self, model_fn: ModelFn, x0: torch.Tensor, num_context: int,
             foreground: torch.Tensor | None = None, noise: torch.Tensor | None = None,
             t: torch.Tensor | None = None) -> torch.Tensor:
        """`noise` and `t` are drawn when not given; given, they pair each clip with its own noise (reflow)."""
        t = self.sample_t(x0.shape[0], x0.device) if t is None else t.to(x0.device)
        noise = torch.randn_like(x0) if noise is None else noise.to(x0.device)
        x_t = with_clean_context(self.interpolate(x0, noise, t), x0, num_context)
        return masked_mse(model_fn(x_t, t), noise - x0, num_context, foreground, self.foreground_weight)


class EpsilonDiffusion:
    """DDPM-style noise prediction with the cosine schedule of Nichol & Dhariwal (continuous t), t ~ U(0, 1)."""

    prediction = "epsilon"

    def __init__(self, cosine_offset: float = 0.008, min_alpha_bar: float = 1e-4, foreground_weight: float = 1.0):
        self.cosine_offset, self.min_alpha_bar = float(cosine_offset), float(min_alpha_bar)
        self.foreground_weight = float(foreground_weight)

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        s = self.cosine_offset
        f = torch.cos((t.double() + s) / (1 + s) * math.pi / 2) ** 2 / math.cos(s / (1 + s) * math.pi / 2) ** 2
        return f.clamp(self.min_alpha_bar, 1.0).to(torch.float32)

    def sample_t(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.rand(n, device=device)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.alpha_bar(t).view(-1, *([1] * (x0.dim() - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def loss(self, model_fn: ModelFn, x0: torch.Tensor, num_context: int,
             foreground: torch.Tensor | None = None) -> torch.Tensor:
        t = self.sample_t(x0.shape[0], x0.device)
        noise = torch.randn_like(x0)
        x_t = with_clean_context(self.add_noise(x0, noise, t), x0, num_context)
        return masked_mse(model_fn(x_t, t), noise, num_context, foreground, self.foreground_weight)


OBJECTIVES = {"flow_matching": FlowMatching, "ddpm_eps": EpsilonDiffusion}


def build_objective(config: dict) -> FlowMatching | EpsilonDiffusion:
    """{"name": "flow_matching" | "ddpm_eps", **constructor arguments}."""
    config = dict(config)
    name = config.pop("name", "flow_matching")
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; known: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name](**config)
