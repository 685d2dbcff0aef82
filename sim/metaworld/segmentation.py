"""Where the gripper and the task's objects are in a Meta-World frame: MuJoCo's segmentation rendering (which geom
is frontmost at each pixel) from the episode's camera, flipped as `MetaWorldEnv.camera_image` flips its frames, so
the masks lie on the RGB frames pixel for pixel. For *scoring* (imagination fidelity): it reads the simulator.

Parts, by body, the same rule for every task:
- gripper: the geoms of body "right_hand" and of its subtree: the electric gripper's base (mesh "eGripperBase" on
  "right_hand", the Sawyer's end-effector flange), body "hand" (whose position is the hand xyz of the observation)
  with its rail, the claws "rightclaw"/"leftclaw" and the pads "rightpad"/"leftpad". The claws and pads alone are
  2-17 pixels of a 64-pixel frame; with the base the part is what one sees as the gripper;
- object: the geoms of every body that can move and is not the robot's, i.e. whose chain of bodies up to the world
  carries a joint (free, hinge or slide), outside the robot's subtree (the world's child that holds "hand") and not
  a mocap body. Per task this is what the scripted policy moves: the door panel with its handle, the basketball,
  the shelf-place block, the button, the faucet knob, the handle of handle-press, the hammer and the nail, the
  assembly's nut. The static scene (table, walls, the door frame, the hoop, the shelf, the peg) is not. Unlike
  `_get_pos_objects`, which names a geom, a site or a body com depending on the task, this needs no per-task table.

Masks hold the *visible* pixels of a part: where another geom is in front (the arm over the object) the pixel is not
the part's. Geoms MuJoCo does not draw (collision groups 3-5) are not in any mask, as they are not in the frame.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim.metaworld.env import _FLIPPED

PARTS = ("gripper", "object")
GRIPPER_ROOT = "right_hand"  # the flange the gripper hangs from; "hand", the claws and the pads are below it
HAND = "hand"  # the Meta-World body whose position is the observation's hand xyz: its parent chain is the robot's


def _subtree(model: mujoco.MjModel, root: int) -> set[int]:
    bodies, changed = {root}, True
    while changed:
        grown = bodies | {b for b in range(model.nbody) if model.body_parentid[b] in bodies}
        changed, bodies = grown != bodies, grown
    return bodies


def part_geoms(model: mujoco.MjModel) -> dict[str, np.ndarray]:
    """{"gripper": geom ids, "object": geom ids} by the rules of the module docstring."""
    robot_root = model.body(HAND).id
    while model.body_parentid[robot_root] != 0:
        robot_root = model.body_parentid[robot_root]
    robot = _subtree(model, robot_root)
    gripper = _subtree(model, model.body(GRIPPER_ROOT).id)
    jointed = {int(model.jnt_bodyid[j]) for j in range(model.njnt)}

    def movable(body: int) -> bool:
        while body != 0:
            if body in jointed:
                return True
            body = model.body_parentid[body]
        return False

    objects = {b for b in range(1, model.nbody) if b not in robot and model.body_mocapid[b] < 0 and movable(b)}
    body_of = model.geom_bodyid
    return {"gripper": np.flatnonzero(np.isin(body_of, sorted(gripper))),
            "object": np.flatnonzero(np.isin(body_of, sorted(objects)))}


class PartSegmenter:
    """Boolean masks [S, S] of the gripper's and the objects' visible pixels in a MetaWorldEnv's current frame."""

    def __init__(self):
        # (id of the model, size) -> (the model, kept alive so that its id is not reused; its renderer; part geoms)
        self._renderers: dict[tuple[int, int], tuple[mujoco.MjModel, mujoco.Renderer, dict[str, np.ndarray]]] = {}

    def masks(self, env, size: int | None = None, camera: str | None = None) -> dict[str, np.ndarray]:
        """{"gripper": bool [S, S], "object": bool [S, S]} for `env`'s current state, from `camera` (default: the
        episode's) at `size` (default: the env's image size), aligned with `env.camera_image(size, camera)`."""
        env = env.unwrapped
        if env._mw is None:
            raise RuntimeError("call reset() before segmenting")
        model, data = env._mw.model, env._mw.data
        size = int(size or env.image_size)
        camera = camera or env.camera
        key = (id(model), size)
        if key not in self._renderers:
            renderer = mujoco.Renderer(model, height=size, width=size)
            renderer.enable_segmentation_rendering()
            self._renderers[key] = (model, renderer, part_geoms(model))
        _, renderer, geoms = self._renderers[key]
        renderer.update_scene(data, camera=camera)
        seg = renderer.render()  # int32 [S, S, 2]: object id and object type per pixel, -1 for the background
        if camera in _FLIPPED:
            seg = seg[::-1]
        is_geom = seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)
        return {part: is_geom & np.isin(seg[..., 0], ids) for part, ids in geoms.items()}

    def close(self) -> None:
        for _, renderer, _ in self._renderers.values():
            renderer.close()
        self._renderers.clear()
