"""Exponential moving average of a model's floating-point weights.

With warm-up, as in diffusers' EMAModel: step n uses min(decay, (1 + n) / (10 + n)), so the average spans about the
last n / 9 steps until that reaches 1 / (1 - decay). Without it, a run of a few thousand steps at decay 0.999
averages weights from far along a fast-moving path, so the average lags well behind the weights being trained.
"""

from __future__ import annotations

import torch


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().float().clone() for k, v in model.state_dict().items() if v.is_floating_point()}

    def decay_at(self, step: int) -> float:
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Fold in the weights after optimizer step `step` (0-based)."""
        weight = 1.0 - self.decay_at(step)
        for k, v in model.state_dict().items():
            if k in self.shadow:
                self.shadow[k].lerp_(v.detach().float(), weight)

    def state_dict(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """A full state dict for `model`: averaged floats, the model's own integer buffers."""
        return {k: self.shadow[k].to(v.dtype) if k in self.shadow else v for k, v in model.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for k in self.shadow:
            self.shadow[k].copy_(state[k].float())
