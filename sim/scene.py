"""The tabletop scene as MJCF, built from a list of blocks (Menagerie style: scene, robot, keyframe).

Table frame: x to the right of the image, y to the top of the image, z up. The workspace is the square
|x|, |y| <= WORKSPACE_HALF, fenced by low walls so pushed blocks stay in view. The robot is a planar
pusher (Language-Table style): a vertical cylinder on two slide joints, driven by position actuators.
"""

from __future__ import annotations

from dataclasses import dataclass

COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.75, 0.15),
    "blue": (0.10, 0.25, 0.95),
    "yellow": (0.95, 0.85, 0.05),
    "purple": (0.60, 0.15, 0.80),
    "orange": (1.00, 0.50, 0.00),
}
SHAPES = ("cube", "cylinder")

WORKSPACE_HALF = 0.25
BLOCK_HALF = 0.03  # half-size of a cube, radius of a cylinder, half-height of both
PUSHER_RADIUS = 0.015
CAMERA_HEIGHT = 1.0
# The pusher may travel over the walls so it can get behind a block pressed against one (the walls fence in
# blocks only); the camera sees its whole range.
PUSHER_RANGE = 0.31
CAMERA_FOVY = 35.5  # degrees: the image spans +-0.32 m
MAX_BLOCKS = 6


@dataclass(frozen=True, order=True)
class Block:
    color: str
    shape: str

    def __post_init__(self) -> None:
        if self.color not in COLORS:
            raise ValueError(f"unknown color {self.color!r} (known: {', '.join(COLORS)})")
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r} (known: {', '.join(SHAPES)})")

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"

    @property
    def body(self) -> str:
        return f"{self.color}_{self.shape}"


def _block_xml(block: Block) -> str:
    r, g, b = COLORS[block.color]
    h = BLOCK_HALF
    if block.shape == "cube":
        geom = f'<geom name="{block.body}" type="box" size="{h} {h} {h}" rgba="{r} {g} {b} 1" class="block"/>'
    else:
        geom = f'<geom name="{block.body}" type="cylinder" size="{h} {h}" rgba="{r} {g} {b} 1" class="block"/>'
    return f'<body name="{block.body}" pos="0 0 {h}"><freejoint name="{block.body}"/>{geom}</body>'


def scene_xml(blocks: tuple[Block, ...]) -> str:
    """MJCF of the table, walls, pusher, camera and the given blocks (positions are set at reset)."""
    if not 1 <= len(blocks) <= MAX_BLOCKS:
        raise ValueError(f"a scene holds 1 to {MAX_BLOCKS} blocks, got {len(blocks)}")
    if len(set(blocks)) != len(blocks):
        raise ValueError(f"blocks must be distinct color/shape pairs, got {[b.name for b in blocks]}")
    w = WORKSPACE_HALF + BLOCK_HALF + 0.005  # wall inner face, so a block centre can reach WORKSPACE_HALF
    t = 0.01
    walls = "".join(
        f'<geom name="wall_{n}" type="box" pos="{x} {y} 0.02" size="{sx} {sy} 0.02" class="wall"/>'
        for n, x, y, sx, sy in (
            ("left", -w - t, 0, t, w + 2 * t),
            ("right", w + t, 0, t, w + 2 * t),
            ("bottom", 0, -w - t, w + 2 * t, t),
            ("top", 0, w + t, w + 2 * t, t),
        )
    )
    p = PUSHER_RANGE
    return f"""<mujoco model="dreamplan_tabletop">
  <compiler angle="radian"/>
  <option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <quality offsamples="0" shadowsize="0"/>
    <headlight ambient="0.55 0.55 0.55" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
    <map znear="0.1" zfar="3"/>
  </visual>
  <default>
    <default class="block">
      <geom condim="4" friction="0.4 0.01 0.001" solref="0.01 1" density="400"/>
    </default>
    <default class="wall">
      <geom rgba="0.55 0.5 0.45 1" condim="3" friction="0.2"/>
    </default>
  </default>
  <worldbody>
    <geom name="table" type="plane" size="0.4 0.4 0.05" rgba="0.32 0.32 0.35 1" friction="0.4 0.01 0.001"/>
    {walls}
    <camera name="top" pos="0 0 {CAMERA_HEIGHT}" xyaxes="1 0 0 0 1 0" fovy="{CAMERA_FOVY}"/>
    <body name="pusher" pos="0 0 {BLOCK_HALF + 0.002}">
      <joint name="pusher_x" type="slide" axis="1 0 0" range="{-p} {p}" damping="20"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" range="{-p} {p}" damping="20"/>
      <geom name="pusher" type="cylinder" size="{PUSHER_RADIUS} {BLOCK_HALF}" rgba="0.95 0.95 0.95 1"
            mass="1" contype="1" conaffinity="1" condim="3" friction="0.1"/>
    </body>
    {''.join(_block_xml(b) for b in blocks)}
  </worldbody>
  <contact>
    <exclude body1="world" body2="pusher"/>
  </contact>
  <actuator>
    <position name="pusher_x" joint="pusher_x" kp="2000" ctrlrange="{-p} {p}"/>
    <position name="pusher_y" joint="pusher_y" kp="2000" ctrlrange="{-p} {p}"/>
  </actuator>
</mujoco>
"""
