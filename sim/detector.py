"""A color-segmentation block detector for camera frames, real or imagined.

Each pixel is labelled with the nearest of the scene's rendered colors (table, wall, pusher, six block
colors; calibrated once by rendering them), each block color's pixels are split into connected components,
and every component becomes a detection with its centre in table metres (through the fixed top camera).
Used to score imagined clips (where did the blocks end up?) and to measure imagination fidelity.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from sim.scene import BLOCK_HALF, CAMERA_FOVY, CAMERA_HEIGHT, COLORS

BLOCK_TOP = 2 * BLOCK_HALF


@dataclass(frozen=True)
class Detection:
    color: str
    xy: np.ndarray  # centre in table metres
    area: int  # pixels


@lru_cache(maxsize=1)
def palette() -> tuple[tuple[str, ...], np.ndarray]:
    """Names and rendered RGB of everything that can appear in a frame (measured by rendering a probe scene)."""
    from sim.env import TabletopEnv  # late import: rendering needs the GL set-up that importing sim does

    from sim.scene import SHAPES, Block

    env = TabletopEnv(image_size=64)
    names, colors = ["table", "wall", "pusher"], []
    blocks = [Block(c, SHAPES[0]) for c in COLORS]
    grid = [(-0.15 + 0.15 * (i % 3), 0.08 - 0.16 * (i // 3)) for i in range(len(blocks))]
    inst = {"task": "push_to_center", "blocks": [[b.color, b.shape] for b in blocks],
            "params": {"block": blocks[0].name, "region": "center"}}
    env.reset(options={"instance": inst, "positions": grid, "pusher": [0.2, 0.2]})
    img = env.camera_image().astype(float)
    to_px = lambda xy, z: np.round(world_to_pixel(np.asarray(xy), z, 64)).astype(int)  # noqa: E731
    for xy, z in (([0.0, -0.2], 0.0), ([0.0, -0.3], 0.04), ([0.2, 0.2], BLOCK_TOP + 0.002)):
        c, r = to_px(xy, z)
        colors.append(img[r, c])
    for b, xy in zip(blocks, grid):
        c, r = to_px(xy, BLOCK_TOP)
        names.append(b.color)
        colors.append(img[r, c])
    env.close()
    return tuple(names), np.stack(colors)


def _focal(size: int) -> float:
    return (size / 2) / np.tan(np.radians(CAMERA_FOVY) / 2)


def world_to_pixel(xy: np.ndarray, z: float, size: int) -> np.ndarray:
    """Table metres -> (column, row) pixel centre for a point at height z."""
    s = _focal(size) / (CAMERA_HEIGHT - z)
    return np.array([size / 2 + xy[0] * s - 0.5, size / 2 - xy[1] * s - 0.5])


def pixel_to_world(col: float, row: float, z: float, size: int) -> np.ndarray:
    s = (CAMERA_HEIGHT - z) / _focal(size)
    return np.array([(col + 0.5 - size / 2) * s, (size / 2 - row - 0.5) * s])


def _nearest(pixels: np.ndarray) -> np.ndarray:
    _, colors = palette()
    d = ((pixels[..., None, :].astype(np.float32) - colors.astype(np.float32)) ** 2).sum(-1)
    return d.argmin(-1)


@lru_cache(maxsize=1)
def _uint8_labels() -> np.ndarray:
    """The nearest palette index of each 24-bit RGB color met so far (255: not yet met), filled as frames
    arrive: labelling a uint8 frame becomes a lookup, with the answer measuring its distances gives (integer
    squares are exact in float32)."""
    return np.full(1 << 24, 255, np.uint8)


def label_pixels(image: np.ndarray) -> np.ndarray:
    """Index into palette() names for every pixel, by nearest rendered color."""
    if image.dtype != np.uint8:
        return _nearest(image)
    # camera frames and imagined clips: the search labels dozens of them per decision
    rgb = image.astype(np.int32)
    keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    table = _uint8_labels()
    labels = table[keys]
    unseen = labels == 255
    if unseen.any():
        new = np.unique(keys[unseen])
        table[new] = _nearest(np.stack([new >> 16, (new >> 8) & 255, new & 255], -1))
        labels = table[keys]
    return labels.astype(np.int64)


def detect_blocks(image: np.ndarray, min_area: int | None = None) -> list[Detection]:
    """Blocks visible in an RGB frame. Components smaller than `min_area` pixels (default: 45 % of a
    block's top face) are dropped: near the image edge the camera sees cube sides, whose darker shade can
    pass for a neighbouring color (orange's for red), in slivers smaller than that."""
    size = image.shape[0]
    names, _ = palette()
    labels = label_pixels(image)
    face_px = (2 * BLOCK_HALF * _focal(size) / (CAMERA_HEIGHT - BLOCK_TOP)) ** 2
    min_area = max(2, int(face_px * 0.45)) if min_area is None else min_area
    out = []
    pixels = np.bincount(labels.ravel(), minlength=len(names))
    for idx, name in enumerate(names):
        if name not in COLORS or pixels[idx] < min_area:  # no component of this color could be kept
            continue
        components, n = ndimage.label(labels == idx)  # 4-connected
        if n == 0:
            continue
        areas = np.bincount(components.ravel(), minlength=n + 1)[1:]
        centres = ndimage.center_of_mass(np.ones_like(components), components, range(1, n + 1))
        for area, (row, col) in zip(areas, centres):
            if area >= min_area:
                out.append(Detection(name, pixel_to_world(col, row, BLOCK_TOP, size), int(area)))
    return out


def by_color(detections: list[Detection]) -> dict[str, list[Detection]]:
    """Detections grouped by color (colors in order of first appearance), each color's largest first: of two blocks
    of one color the cube shows the larger top."""
    out: dict[str, list[Detection]] = {}
    for d in detections:
        out.setdefault(d.color, []).append(d)
    return {color: sorted(ds, key=lambda d: -d.area) for color, ds in out.items()}


def pusher_position(image: np.ndarray) -> np.ndarray | None:
    names, _ = palette()
    mask = label_pixels(image) == names.index("pusher")
    if not mask.any():
        return None
    rows, cols = np.nonzero(mask)
    return pixel_to_world(cols.mean(), rows.mean(), BLOCK_TOP + 0.002, image.shape[0])
