"""`dreamplan run out=...`: the video's format follows the suffix (mp4, or an animated GIF / WebP), written
atomically."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from dreamplan.run import ANIMATION_SCALE, ANIMATION_STRIDE, run_instruction, write_video


def episode(steps: int = 20):
    frames = [np.full((64, 64, 3), 10 * i, np.uint8) for i in range(steps + 1)]
    return SimpleNamespace(frames=frames, imagined=[(0, np.stack(frames[1:5]))])


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animations_loop_every_second_step_at_3x(tmp_path, suffix):
    path = write_video(tmp_path / f"clip{suffix}", episode(20), frame_stride=4)
    with Image.open(path) as im:
        assert im.n_frames == len(range(0, 21, ANIMATION_STRIDE))
        assert im.size == (64 * ANIMATION_SCALE, 2 * 64 * ANIMATION_SCALE)  # imagined on top of real
        assert im.info.get("loop") == 0
    assert [p.name for p in tmp_path.iterdir()] == [f"clip{suffix}"]  # no temp file left behind


def test_mp4(tmp_path):
    path = write_video(tmp_path / "clip.mp4", episode(8), frame_stride=4)
    assert path.stat().st_size > 0


def test_an_unknown_suffix_is_refused_before_the_episode_runs(tmp_path):
    agent = SimpleNamespace(run=lambda *a, **k: pytest.fail("the episode ran"))
    with pytest.raises(ValueError, match=r"\.mp4, \.gif, \.webp"):
        run_instruction(None, agent, "group the blocks by color", 0, str(tmp_path / "clip.avi"), 4)
