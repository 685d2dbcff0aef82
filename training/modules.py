"""Small torch pieces the models trained here share: a strided conv stage, a masked action loss, a parameter count."""

from __future__ import annotations

import math

import torch
from torch import nn


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """A stride-2 3x3 conv (halves the resolution), GroupNorm, SiLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GroupNorm(math.gcd(8, c_out), c_out), nn.SiLU())


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE between [B, T, D] predicted and target actions over the steps the bool [B, T] `mask` marks as real
    (0 if none is)."""
    err = (prediction.float() - target).pow(2)
    mask = mask.unsqueeze(-1).expand_as(err)
    return err[mask].sum() / mask.sum().clamp(min=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
