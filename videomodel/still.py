"""The null world model: it imagines that nothing moves (every frame is the current image).

A baseline, not a planner: beside a learned video model it says how much an agent's success comes from what
was imagined rather than from what its inverse dynamics reads off the real image and proprioception alone."""

from __future__ import annotations

import numpy as np


class StillVideoModel:
    def __init__(self, horizon: int = 4, frame_stride: int = 8):
        if horizon < 1 or frame_stride < 1:
            raise ValueError(f"horizon and frame_stride must be >= 1, got {horizon}, {frame_stride}")
        self.horizon, self.frame_stride = horizon, frame_stride

    def imagine(self, image: np.ndarray, text: str, num_samples: int) -> np.ndarray:
        image = np.asarray(image)
        return np.broadcast_to(image, (num_samples, self.horizon, *image.shape)).copy()
