"""Image augmentation for inverse-dynamics training, on float frames [B, n, H, W, 3] in [0, 1].

A shift or color change is shared by all frames of a sample (it must not fake motion); blur and noise are drawn
per frame, because imagined frames from the video model are blurrier and noisier than the real current frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Augment:
    shift: int = 2            # max pixels of random translation (replicate-padded)
    brightness: float = 0.1   # +- additive brightness
    contrast: float = 0.1     # +- relative contrast
    blur_prob: float = 0.3    # chance that a frame is Gaussian-blurred ...
    blur_sigma: float = 1.0   # ... with sigma uniform in (0, blur_sigma] pixels
    noise: float = 0.02       # Gaussian pixel noise, std uniform in [0, noise] per frame

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        b, n, h, w, _ = frames.shape
        x = frames.permute(0, 1, 4, 2, 3).reshape(b, n * 3, h, w)
        if self.shift:
            x = _random_shift(x, self.shift)
        x = x.view(b, n, 3, h, w)
        if self.brightness or self.contrast:
            gain = 1 + (torch.rand(b, 1, 1, 1, 1, device=x.device) * 2 - 1) * self.contrast
            offset = (torch.rand(b, 1, 1, 1, 1, device=x.device) * 2 - 1) * self.brightness
            x = (x - 0.5) * gain + 0.5 + offset
        if self.blur_prob and self.blur_sigma:
            x = _random_blur(x, self.blur_prob, self.blur_sigma)
        if self.noise:
            x = x + torch.randn_like(x) * torch.rand(b, n, 1, 1, 1, device=x.device) * self.noise
        return x.clamp(0, 1).permute(0, 1, 3, 4, 2)


def _random_shift(x: torch.Tensor, pad: int) -> torch.Tensor:
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b)).tolist()
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])


def _random_blur(x: torch.Tensor, prob: float, max_sigma: float) -> torch.Tensor:
    b, n, c, h, w = x.shape
    flat = x.reshape(b * n, c, h, w)
    chosen = torch.nonzero(torch.rand(b * n) < prob).flatten()
    if len(chosen) == 0:
        return x
    radius = max(1, int(round(2 * max_sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    sigma = torch.rand(len(chosen), 1, device=x.device) * max_sigma + 1e-3
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # [m, 2r+1], one separable kernel per chosen frame
    sel = flat[chosen].transpose(0, 1)  # c, m, h, w: each frame is its own group
    m = len(chosen)
    sel = F.conv2d(F.pad(sel, (radius, radius, 0, 0), mode="replicate"), kernel.view(m, 1, 1, -1), groups=m)
    sel = F.conv2d(F.pad(sel, (0, 0, radius, radius), mode="replicate"), kernel.view(m, 1, -1, 1), groups=m)
    out = flat.clone()
    out[chosen] = sel.transpose(0, 1).to(out.dtype)  # conv2d runs in bf16 under autocast
    return out.view(b, n, c, h, w)
