"""Samplers: integrate from noise (t = 1) to data (t = 0) with a `model_fn(x, t) -> prediction` closure
(so classifier-free guidance, autocast, etc. plug in from outside).

Inpainting-style conditioning: the first frames of every sample are the given context latents; they are
written into x before every network call, and the returned clip holds them unchanged.

    EulerSampler, HeunSampler   for velocity prediction (FlowMatching)
    DDIMSampler                 for noise prediction (EpsilonDiffusion), deterministic (eta = 0)
"""

from __future__ import annotations

import torch

from videomodel.objectives import EpsilonDiffusion, ModelFn


def _with_context(x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    return torch.cat([context, x[:, context.shape[1]:]], dim=1)


def _start(context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """[B, Fc, ...] context + [B, T, ...] noise -> the full clip [B, Fc + T, ...] at t = 1."""
    if context.shape[0] != noise.shape[0] or context.shape[2:] != noise.shape[2:]:
        raise ValueError(f"context {tuple(context.shape)} and noise {tuple(noise.shape)} do not fit together")
    return torch.cat([context, noise], dim=1).float()


def flow_timesteps(steps: int, shift: float = 1.0) -> torch.Tensor:
    """steps + 1 times from 1 to 0; shift > 1 spends more steps at high noise (SD3's time shift)."""
    t = torch.linspace(1.0, 0.0, steps + 1)
    return shift * t / (1 + (shift - 1) * t)


class EulerSampler:
    prediction = "velocity"

    def __init__(self, steps: int = 8, shift: float = 1.0):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.steps, self.shift = int(steps), float(shift)

    @property
    def function_evaluations(self) -> int:
        return self.steps

    def sample(self, model_fn: ModelFn, context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = _start(context, noise)
        ts = flow_timesteps(self.steps, self.shift).tolist()
        for t, t_next in zip(ts[:-1], ts[1:]):
            v = model_fn(x, torch.full((x.shape[0],), t, device=x.device)).float()
            x = _with_context(x + (t_next - t) * v, context)
        return x


class HeunSampler(EulerSampler):
    """Second order (trapezoid): an Euler step, then the average of the velocities at both ends. The last step
    (to t = 0) stays Euler, as in EDM, so the network is never asked for the velocity at t = 0."""

    @property
    def function_evaluations(self) -> int:
        return 2 * self.steps - 1

    def sample(self, model_fn: ModelFn, context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = _start(context, noise)
        ts = flow_timesteps(self.steps, self.shift).tolist()
        batch = x.shape[0]
        for t, t_next in zip(ts[:-1], ts[1:]):
            v = model_fn(x, torch.full((batch,), t, device=x.device)).float()
            x_euler = _with_context(x + (t_next - t) * v, context)
            if t_next > 0:
                v_next = model_fn(x_euler, torch.full((batch,), t_next, device=x.device)).float()
                x = _with_context(x + (t_next - t) * 0.5 * (v + v_next), context)
            else:
                x = x_euler
        return x


class DDIMSampler:
    prediction = "epsilon"

    def __init__(self, schedule: EpsilonDiffusion, steps: int = 10, clip_x0: float | None = None):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.schedule, self.steps, self.clip_x0 = schedule, int(steps), clip_x0

    @property
    def function_evaluations(self) -> int:
        return self.steps

    def sample(self, model_fn: ModelFn, context: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = _start(context, noise)
        ts = torch.linspace(1.0, 0.0, self.steps + 1)
        alpha_bars = self.schedule.alpha_bar(ts).tolist()
        alpha_bars[-1] = 1.0
        for t, a, a_next in zip(ts[:-1].tolist(), alpha_bars[:-1], alpha_bars[1:]):
            eps = model_fn(x, torch.full((x.shape[0],), t, device=x.device)).float()
            x0 = (x - (1 - a) ** 0.5 * eps) / a**0.5
            if self.clip_x0 is not None:
                x0 = x0.clamp(-self.clip_x0, self.clip_x0)
            x = _with_context(a_next**0.5 * x0 + (1 - a_next) ** 0.5 * eps, context)
        return x


def build_sampler(config: dict, objective) -> EulerSampler | HeunSampler | DDIMSampler:
    """{"name": "euler" | "heun" | "ddim", **constructor arguments}; must fit the objective's prediction."""
    config = dict(config)
    name = config.pop("name", "euler")
    if name == "euler":
        sampler = EulerSampler(**config)
    elif name == "heun":
        sampler = HeunSampler(**config)
    elif name == "ddim":
        if not isinstance(objective, EpsilonDiffusion):
            raise ValueError("the ddim sampler needs the ddpm_eps objective (its noise schedule)")
        sampler = DDIMSampler(objective, **config)
    else:
        raise ValueError(f"unknown sampler {name!r}; known: euler, heun, ddim")
    if sampler.prediction != objective.prediction:
        raise ValueError(f"sampler {name!r} reads {sampler.prediction} predictions, the objective trains the network "
                         f"to predict {objective.prediction}")
    return sampler
