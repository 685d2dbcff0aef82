"""Inverse dynamics by classical vision: track the pusher, the one white object on the table.

The action is the pusher's displacement between two frames, converted from pixels to metres through the
fixed top camera and divided over the env steps between the frames. No learning, no training data: a
baseline for the learned model, exact on rendered frames up to the position controller's lag.
"""

from __future__ import annotations

import numpy as np

from sim.scene import BLOCK_HALF, CAMERA_FOVY, CAMERA_HEIGHT

PUSHER_TOP = 2 * BLOCK_HALF + 0.002  # the camera sees the pusher's top face at this height


class PusherTracker:
    def __init__(self, frame_stride: int = 4, max_step: float = 0.02, white_threshold: int = 200):
        self.frame_stride, self.max_step, self.white_threshold = frame_stride, max_step, white_threshold

    def pusher_xy(self, frame: np.ndarray) -> np.ndarray | None:
        """Pusher centre in table metres, or None when no white pixel is visible."""
        mask = frame.min(axis=-1) > self.white_threshold
        if not mask.any():
            return None
        h, w = mask.shape
        rows, cols = np.nonzero(mask)
        focal = (w / 2) / np.tan(np.radians(CAMERA_FOVY) / 2)
        metres_per_px = (CAMERA_HEIGHT - PUSHER_TOP) / focal
        return np.array([(cols.mean() + 0.5 - w / 2) * metres_per_px, (h / 2 - rows.mean() - 0.5) * metres_per_px])

    def actions(self, frames: np.ndarray) -> np.ndarray:
        centres = [self.pusher_xy(f) for f in frames]
        out = np.zeros((len(frames) - 1, self.frame_stride, 2), np.float32)
        for i, (a, b) in enumerate(zip(centres, centres[1:])):
            if a is not None and b is not None:
                out[i] = np.clip((b - a) / (self.frame_stride * self.max_step), -1.0, 1.0)
        return out.reshape(-1, 2)
