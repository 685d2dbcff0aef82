"""Fast headless rendering: MuJoCo's Renderer with shadows, reflections and skybox off.

With those off and `offsamples = 0` (set in the scene's <visual>), a small frame renders far faster than with
MuJoCo's defaults, which matters when every env step renders one. The GL backend comes from MUJOCO_GL
(sim/__init__ defaults it to egl).
"""

from __future__ import annotations

import mujoco
import numpy as np


class FastRenderer:
    _renderer = None

    def __init__(self, model: mujoco.MjModel, height: int, width: int, camera: str = "top"):
        self.camera = camera
        try:
            self._renderer = mujoco.Renderer(model, height=height, width=width)
        except mujoco.FatalError as e:
            raise RuntimeError(
                f"MuJoCo could not open an offscreen GL context ({e}); set MUJOCO_GL=egl (or osmesa) before "
                "mujoco is first imported -- importing `sim` first does that"
            ) from None
        flags = self._renderer.scene.flags
        for flag in (mujoco.mjtRndFlag.mjRND_SHADOW, mujoco.mjtRndFlag.mjRND_REFLECTION, mujoco.mjtRndFlag.mjRND_SKYBOX):
            flags[flag] = 0

    def render(self, data: mujoco.MjData) -> np.ndarray:
        self._renderer.update_scene(data, camera=self.camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
