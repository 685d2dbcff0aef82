"""Imagination fidelity: how an imagined clip compares with what really happened, and whether it breaks physics.

Read by the block detector (sim.detector): PSNR and SSIM against the real frames, where each block is, and
counts of physics violations (a block appearing or vanishing, moving untouched, two blocks overlapping).
Region metrics (numpy, for Meta-World, where the scorer has masks from the simulator's segmentation): the pixels
that move within a clip, MSE and PSNR inside a mask, and whether a frame shows a part where it truly is.
"""

from __future__ import annotations

import numpy as np
import torch

from sim.detector import Detection, detect_blocks, pusher_position
from sim.scene import BLOCK_HALF, PUSHER_RADIUS

MOVE_EPS = 0.01  # a block "moved" between frames if its detection shifted more than this (m)
TOUCH = BLOCK_HALF * np.sqrt(2) + PUSHER_RADIUS + 0.02  # pusher this close may be touching a block (m)
BLOCK_TOUCH = 2 * BLOCK_HALF * np.sqrt(2) + 0.01
OVERLAP = 1.5 * BLOCK_HALF  # two block centres closer than this interpenetrate (m)


def psnr(prediction: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> float:
    """Peak signal-to-noise ratio (dB), the mean over frames (the last three axes: [..., H, W, 3] or [..., 3, H, W])
    of uint8 frames (peak 255) or of floats in [-1, 1] (peak 2), numpy or torch; inf for identical frames."""
    prediction, target = (torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
                          for x in (prediction, target))
    if prediction.shape != target.shape:
        raise ValueError(f"psnr of different shapes: {tuple(prediction.shape)} vs {tuple(target.shape)}")
    peak = 255.0 if target.dtype == torch.uint8 else 2.0
    mse = (prediction.detach().double() - target.detach().double()).pow(2).flatten(-3).mean(-1)
    return float((10 * torch.log10(peak**2 / mse)).mean())


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7) -> float:
    """Mean SSIM over channels with a uniform window (Wang et al. 2004; skimage's defaults)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def box(x):  # mean over window x window neighbourhoods ('valid' region), via an integral image
        s = np.pad(x, ((1, 0), (1, 0), (0, 0))).cumsum(0).cumsum(1)
        w = window
        return (s[w:, w:] - s[:-w, w:] - s[w:, :-w] + s[:-w, :-w]) / (w * w)

    n = window * window
    mu_a, mu_b = box(a), box(b)
    var_a = (box(a * a) - mu_a**2) * n / (n - 1)
    var_b = (box(b * b) - mu_b**2) * n / (n - 1)
    cov = (box(a * b) - mu_a * mu_b) * n / (n - 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def _match(a: list[Detection], b: list[Detection]) -> list[tuple[Detection, Detection]]:
    """Pair detections of the same color, nearest first."""
    pairs, used = [], set()
    cands = sorted(((np.linalg.norm(x.xy - y.xy), i, j) for i, x in enumerate(a) for j, y in enumerate(b)
                    if x.color == y.color))
    taken_a = set()
    for _, i, j in cands:
        if i not in taken_a and j not in used:
            pairs.append((a[i], b[j]))
            taken_a.add(i)
            used.add(j)
    return pairs


def _area_by_color(detections: list[Detection]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in detections:
        out[d.color] = out.get(d.color, 0) + d.area
    return out


def physics_violations(frames: np.ndarray) -> dict[str, int]:
    """Counts over an imagined clip [T+1, H, W, 3] whose first frame is real."""
    dets = [detect_blocks(f) for f in frames]
    pushers = [pusher_position(f) for f in frames]
    out = {"permanence": 0, "moved_without_contact": 0, "interpenetration": 0}
    area0 = _area_by_color(dets[0])
    for t in range(1, len(frames)):
        # by area, not by count: two same-color blocks pushed together are one blob, yet both still there
        area = _area_by_color(dets[t])
        out["permanence"] += int(any(not 0.6 <= area.get(c, 0) / a0 <= 1.6 for c, a0 in area0.items())
                                 or any(c not in area0 for c in area))
        for i, x in enumerate(dets[t]):
            out["interpenetration"] += int(sum(np.linalg.norm(x.xy - y.xy) < OVERLAP for y in dets[t][i + 1 :]))
        for before, after in _match(dets[t - 1], dets[t]):
            if np.linalg.norm(after.xy - before.xy) <= MOVE_EPS:
                continue
            near_pusher = any(p is not None and min(np.linalg.norm(p - before.xy), np.linalg.norm(p - after.xy)) < TOUCH
                              for p in (pushers[t - 1], pushers[t]))
            near_block = any(np.linalg.norm(o.xy - before.xy) < BLOCK_TOUCH for o in dets[t - 1] if o is not before)
            out["moved_without_contact"] += int(not (near_pusher or near_block))
    return out


def block_position_error(imagined: np.ndarray, real: np.ndarray) -> float:
    """Mean distance (m) between each real block and the same-color block in the imagined frame; a real
    block with no imagined counterpart counts as the table's half-width."""
    errs = []
    for im, re in zip(imagined, real):
        di, dr = detect_blocks(im), detect_blocks(re)
        pairs = _match(dr, di)
        errs += [np.linalg.norm(r.xy - i.xy) for r, i in pairs] + [0.25] * (len(dr) - len(pairs))
    return float(np.mean(errs)) if errs else 0.0


# ------------------------------------------------------------------------------------------------------------
# Region metrics (numpy): PSNR inside a mask, and which pixels move. Used on Meta-World, where the scorer has the
# simulator's segmentation of the true frames (sim.metaworld.segmentation) and no block detector applies.

MOVE_THRESHOLD = 8  # a pixel "moves" if some channel changes by more than this many uint8 levels


def changed_pixels(a: np.ndarray, b: np.ndarray, threshold: float = MOVE_THRESHOLD) -> np.ndarray:
    """bool [..., H, W]: where some channel of uint8 frames a and b [..., H, W, 3] differs by more than `threshold`."""
    return (np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)) > threshold).any(-1)


def moving_mask(start: np.ndarray, frames: np.ndarray, threshold: float = MOVE_THRESHOLD) -> np.ndarray:
    """bool [H, W]: the pixels that move within a clip, i.e. whose value changes by more than `threshold` (in some
    channel) between the start frame [H, W, 3] and any of the clip's frames [T, H, W, 3]."""
    return changed_pixels(np.asarray(frames), np.asarray(start)[None], threshold).any(0)


def masked_mse(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """float [T]: per frame, the mean squared error (uint8 levels squared, over the channels) of frames [T, H, W, 3]
    inside `mask` (bool [H, W] for every frame, or [T, H, W] one per frame; None: the whole frame); NaN for a frame
    whose mask is empty."""
    prediction, target = np.asarray(prediction, np.float64), np.asarray(target, np.float64)
    if prediction.shape != target.shape or prediction.ndim != 4:
        raise ValueError(f"masked_mse takes two [T, H, W, 3] clips of one shape: {prediction.shape} vs {target.shape}")
    if mask is None:
        mask = np.ones(prediction.shape[1:3], bool)
    mask = np.broadcast_to(np.asarray(mask, bool), prediction.shape[:3])
    squared = ((prediction - target) ** 2).mean(-1)
    count = mask.sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (squared * mask).sum((1, 2)) / count, np.nan)


def psnr_of_mse(mse, peak: float = 255.0) -> float:
    """PSNR (dB) of the mean of per-frame MSEs (NaNs, i.e. frames with an empty region, left out): each frame weighs
    the same, and a frame predicted exactly adds zero error instead of an infinite PSNR; inf if all are exact, NaN if
    no frame counts."""
    mse = np.asarray(mse, np.float64).ravel()
    mse = mse[~np.isnan(mse)]
    if mse.size == 0:
        return float("nan")
    mean = float(mse.mean())
    return float("inf") if mean == 0 else float(10 * np.log10(peak**2 / mean))


def masked_psnr(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
                peak: float = 255.0) -> float:
    """PSNR (dB) of uint8 clips [T, H, W, 3] inside `mask` ([H, W] or [T, H, W]): `psnr_of_mse(masked_mse(...))`."""
    return psnr_of_mse(masked_mse(prediction, target, mask), peak)


def nearer_truth(prediction: np.ndarray, target: np.ndarray, start: np.ndarray, mask: np.ndarray,
                 threshold: float = MOVE_THRESHOLD) -> np.ndarray:
    """float [T] of 1, 0 or NaN: per frame, whether the predicted frame shows what truly is inside `mask` rather than
    what was there at the start. The pixels judged are those of the frame's mask ([T, H, W] or [H, W]) whose true
    value differs from the start frame's by more than `threshold` (the part has moved in or out of them); there the
    prediction counts (1) if its MSE to the true frame is smaller than its MSE to the start frame. NaN where no pixel
    qualifies (the part is hidden, or it did not change there): nothing to tell apart. The true frames score 1 on
    every counted frame, the start frame held still scores 0."""
    prediction, target = np.asarray(prediction), np.asarray(target)
    start = np.broadcast_to(np.asarray(start), target.shape)
    judged = np.broadcast_to(np.asarray(mask, bool), target.shape[:3]) & changed_pixels(target, start, threshold)
    to_truth, to_start = masked_mse(prediction, target, judged), masked_mse(prediction, start, judged)
    return np.where(np.isnan(to_truth), np.nan, (to_truth < to_start).astype(np.float64))
