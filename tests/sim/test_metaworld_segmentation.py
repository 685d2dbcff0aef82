"""The gripper's and the objects' masks in Meta-World frames (MuJoCo segmentation; real Meta-World, real MuJoCo)."""

import mujoco
import numpy as np
import pytest

from sim.metaworld.env import MetaWorldEnv
from sim.metaworld.expert import MetaWorldExpert
from sim.metaworld.segmentation import PartSegmenter, part_geoms

pytestmark = pytest.mark.metaworld  # skipped without the extra (tests/conftest.py)


@pytest.fixture(scope="module")
def env():
    e = MetaWorldEnv("door-open", image_size=64)
    yield e
    e.close()


def _names(model, ids, kind=mujoco.mjtObj.mjOBJ_GEOM):
    return {mujoco.mj_id2name(model, kind, int(i)) for i in ids} - {None}


def _bodies(model, geoms):
    return _names(model, {model.geom_bodyid[g] for g in geoms}, mujoco.mjtObj.mjOBJ_BODY)


@pytest.mark.parametrize("task, objects, not_objects", [
    ("door-open", {"door_link"}, {"door", "doorlockB"}),           # the hinged panel, not the frame
    ("basketball", {"basketball"}, {"backboardlink", "hooplink"}),  # the ball, not the hoop
    ("hammer", {"hammer", "nail_link"}, {"hammerblock"}),          # the hammer and the nail, not the block
    ("assembly", {"asmbly_peg"}, {"peg"}),                         # the nut (its body's misnomer), not the peg
])
def test_part_geoms_are_the_gripper_and_what_can_move(env, task, objects, not_objects):
    env.reset(seed=0, options={"task": task})
    model = env._mw.model
    parts = part_geoms(model)
    assert {"leftpad_geom", "rightpad_geom", "rail"} <= _names(model, parts["gripper"])
    assert _bodies(model, parts["gripper"]) <= {"right_hand", "hand", "rightclaw", "leftclaw", "rightpad", "leftpad"}
    assert _bodies(model, parts["object"]) == objects
    assert not _bodies(model, parts["object"]) & (not_objects | {"tablelink", "RetainingWall", "right_l6", "mocap"})


@pytest.mark.parametrize("task, camera", [("door-open", "corner"), ("hammer", "corner3"), ("button-press", "corner2")])
def test_masks_lie_on_the_parts(env, task, camera):
    """Drawing the frame without a part's geoms changes the pixels of that part's mask, and no others."""
    env.reset(seed=1, options={"task": task, "camera": camera})
    expert = MetaWorldExpert(task)
    for _ in range(12):
        env.advance(expert.act_in(env))
    segmenter = PartSegmenter()
    try:
        masks = segmenter.masks(env)
        assert segmenter.masks(env, size=32)["gripper"].shape == (32, 32)
    finally:
        segmenter.close()
    frame = env.camera_image().astype(int)
    model = env._mw.model
    for part, ids in part_geoms(model).items():
        mask = masks[part]
        assert mask.shape == (64, 64) and mask.dtype == bool and mask.sum() >= 3, (part, mask.sum())
        alpha = model.geom_rgba[ids, 3].copy()
        model.geom_rgba[ids, 3] = 0
        try:
            without = env.camera_image().astype(int)
        finally:
            model.geom_rgba[ids, 3] = alpha
        changed = np.abs(without - frame).max(-1) > 0
        assert not (changed & ~mask).any(), f"{part}: hiding it changed pixels outside its mask"
        assert (changed & mask).sum() >= 0.8 * mask.sum(), f"{part}: its mask covers pixels it does not draw"
    assert not (masks["gripper"] & masks["object"]).any()
