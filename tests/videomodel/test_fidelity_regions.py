"""Region metrics of imagination fidelity (numpy only): moving pixels, PSNR inside a mask, "nearer the truth"."""

import math

import numpy as np
import pytest

from videomodel.fidelity import (MOVE_THRESHOLD, changed_pixels, masked_mse, masked_psnr, moving_mask, nearer_truth,
                                 psnr, psnr_of_mse)


def _scene(t: int, size: int = 16) -> np.ndarray:
    """A grey frame with a bright 3x3 square whose column moves right by 2 pixels a frame."""
    frame = np.full((size, size, 3), 100, np.uint8)
    frame[6:9, 2 + 2 * t : 5 + 2 * t] = 230
    return frame


def test_moving_mask_is_the_pixels_that_change_past_the_threshold():
    start = np.full((8, 8, 3), 50, np.uint8)
    frames = np.repeat(start[None], 3, axis=0)
    frames[1, 2, 3, 0] += MOVE_THRESHOLD + 1  # one channel of one pixel, in one frame: moves
    frames[2, 5, 5] += MOVE_THRESHOLD  # every channel, but only by the threshold: does not
    mask = moving_mask(start, frames)
    assert mask.shape == (8, 8) and mask.dtype == bool
    assert np.argwhere(mask).tolist() == [[2, 3]]
    assert not moving_mask(start, np.repeat(start[None], 2, axis=0)).any()
    assert changed_pixels(frames[1], start).sum() == 1  # no uint8 wrap-around: 50 - 59 is a change of 9
    below = start.copy()
    below[0, 0] = 0
    assert changed_pixels(below, start)[0, 0]


def test_masked_mse_and_psnr():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    pred = truth.copy()
    pred[0, :4] = np.clip(truth[0, :4].astype(int) + 10, 0, 255)  # top half of frame 0 off by up to 10 levels
    top = np.zeros((8, 8), bool)
    top[:4] = True
    inside = masked_mse(pred, truth, top)
    expected = ((pred[0, :4].astype(float) - truth[0, :4]) ** 2).mean()
    assert inside[0] == pytest.approx(expected) and inside[1] == 0.0
    assert masked_mse(pred, truth, ~top).tolist() == [0.0, 0.0]  # the error is all inside the mask
    # whole frame: one frame's masked PSNR is the usual PSNR
    assert masked_psnr(pred[:1], truth[:1]) == pytest.approx(psnr(pred[:1], truth[:1]))
    # a mask per frame; an empty one is NaN and is left out of the PSNR
    per_frame = np.stack([top, np.zeros((8, 8), bool)])
    mse = masked_mse(pred, truth, per_frame)
    assert mse[0] == pytest.approx(expected) and math.isnan(mse[1])
    assert masked_psnr(pred, truth, per_frame) == pytest.approx(10 * np.log10(255**2 / expected))
    assert masked_psnr(truth, truth, top) == float("inf")
    assert math.isnan(masked_psnr(pred, truth, np.zeros((8, 8), bool)))
    with pytest.raises(ValueError, match="one shape"):
        masked_mse(pred, truth[:1])


def test_psnr_of_mse_pools_frames_so_an_exact_frame_adds_zero_error():
    assert psnr_of_mse([100.0, 0.0]) == pytest.approx(10 * np.log10(255**2 / 50.0))
    assert psnr_of_mse([0.0, np.nan]) == float("inf") and math.isnan(psnr_of_mse([np.nan]))
    assert psnr_of_mse([4.0], peak=2.0) == pytest.approx(0.0)


def test_nearer_truth_tells_the_part_where_it_is_from_where_it_was():
    start = _scene(0)
    truth = np.stack([_scene(t) for t in (1, 2, 3)])
    square = np.stack([(f == 230).all(-1) for f in truth])  # the part's true pixels, a mask per frame
    assert nearer_truth(truth, truth, start, square).tolist() == [1.0, 1.0, 1.0]
    held = np.broadcast_to(start, truth.shape)
    assert nearer_truth(held, truth, start, square).tolist() == [0.0, 0.0, 0.0]
    # a blurred prediction counts if it is more truth than start on the judged pixels
    mostly_true = (0.7 * truth + 0.3 * held).astype(np.uint8)
    mostly_start = (0.3 * truth + 0.7 * held).astype(np.uint8)
    assert nearer_truth(mostly_true, truth, start, square).tolist() == [1.0, 1.0, 1.0]
    assert nearer_truth(mostly_start, truth, start, square).tolist() == [0.0, 0.0, 0.0]
    # pixels of the mask that did not change are not judged; a frame with none is NaN (not counted)
    unmoved = np.zeros((16, 16), bool)
    unmoved[0, 0] = True
    assert np.isnan(nearer_truth(truth, truth, start, unmoved)).all()
    # frame 1's square overlaps the start's square in one column: judged are the two columns it moved into
    judged = square[0] & changed_pixels(truth[0], start)
    assert judged.sum() == 6
