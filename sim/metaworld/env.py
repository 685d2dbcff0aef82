"""A Meta-World v3 task behind our env conventions (observation dict, info["success"], seeded resets, fast frames).

Action: Meta-World's own, 4-D in [-1, 1]: end-effector xyz displacement (x 1 cm) and gripper effort. Actions out of
the box are clipped; NaN or inf raises ValueError. Observation: {"image": uint8 [S, S, 3] from the chosen camera,
"state": float32 [39], Meta-World's goal-observable state (hand xyz, gripper, object poses, previous frame, goal),
"proprio": float32 [4], the hand's xyz and the gripper's opening (what agents see besides the image)}.
Reward: Meta-World's dense reward. Terminated on success; truncated after `max_steps` (500, Meta-World's horizon).
Info: task, instruction (AVDC's task text, e.g. "door open"), camera, seed, subgoals ([instruction]: one step),
subgoal_index, subgoal_success, success, and Meta-World's own metrics under "metaworld".

Seeds: `reset(seed=s)` puts the scene exactly where AVDC's protocol has it, i.e. what
`ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{task}-v3-goal-observable"](seed=s)` then `reset()` gives, without rebuilding
the model; numpy's global random state is left as it was.

Cameras: Meta-World's corner cameras are rolled 180 degrees about their view axis; MuJoCo's Renderer (and
Gymnasium's, which Meta-World v3 uses) therefore draws every one of corner, corner2 and corner3 upside down. Their
poses were tuned for mujoco-py, which returned images bottom row first, so we flip the rows the same way: frames
look like the Meta-World v2 images AVDC trained and evaluated on (a left-right mirror of a physically upright
camera at that pose; `np.rot90(frame, 2)` gives that one).

Rendering: our FastRenderer (shadows, reflections, skybox off) with `offsamples = 0`; see sim/render.py.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from sim.errors import DreamplanError, elided
from sim.metaworld import AVDC_TASKS, CAMERAS, MAX_STEPS, canonical_task, env_name, require_metaworld, task_text
from sim.render import FastRenderer

STATE_DIM = 39
ALL_CAMERAS = (*CAMERAS, "corner4", "topview", "behindGripper", "gripperPOV")  # the last three: as MuJoCo draws them
_FLIPPED = {"corner", "corner2", "corner3", "corner4"}  # cameras whose native frame is upside down


@dataclass(frozen=True)
class MetaWorldInstance:
    """What one episode is: enough to reset an identical scene (`reset(seed=seed, options={task, camera})`)."""

    task: str
    camera: str
    seed: int
    instruction: str

    def to_dict(self) -> dict:
        return {"task": self.task, "camera": self.camera, "seed": self.seed, "instruction": self.instruction}


@contextmanager
def _global_numpy_seed(seed: int):
    """Meta-World draws scene layouts from numpy's global generator: seed it for the block, then put it back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


class MetaWorldEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 80}  # 5 substeps x 2.5 ms per step

    def __init__(self, task: str = "door-open", camera: str = "corner", image_size: int = 64,
                 render_mode: str | None = None, render_size: int | None = None, max_steps: int = MAX_STEPS):
        self._metaworld = require_metaworld()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r} (known: rgb_array)")
        if not 1 <= int(max_steps) <= MAX_STEPS:
            raise ValueError(f"max_steps must be in 1..{MAX_STEPS} (Meta-World refuses to step further), got {max_steps}")
        self.task_id = self._check_task(task)
        self.camera = self._check_camera(camera)
        self.image_size = int(image_size)
        self.render_mode = render_mode
        self.render_size = int(render_size or image_size)
        self.max_steps = int(max_steps)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, shape=(self.image_size, self.image_size, 3), dtype=np.uint8),
            "state": gym.spaces.Box(-np.inf, np.inf, shape=(STATE_DIM,), dtype=np.float32),
            "proprio": gym.spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32),
        })
        self._envs: dict[str, Any] = {}  # task -> its Meta-World env, built on first use
        self._renderers: dict[tuple[str, int], FastRenderer] = {}
        self._mw = None
        self.instance: MetaWorldInstance | None = None
        self.raw_observation: np.ndarray | None = None  # Meta-World's float64 observation (the scripted policies read it)
        self._success = False
        self._steps = 0
        self._last_info: dict = {}
        self._actions: list[np.ndarray] = []  # executed this episode: with the instance, what `snapshot` is

    # ----------------------------------------------------------------------------------------- checks
    @staticmethod
    def _check_task(task: str) -> str:
        name = canonical_task(task)
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS

        if env_name(name) not in ALL_V3_ENVIRONMENTS:
            known = ", ".join(sorted(canonical_task(n) for n in ALL_V3_ENVIRONMENTS))
            raise DreamplanError(f"unknown Meta-World task {task!r} (AVDC's: {', '.join(AVDC_TASKS)}; all: {known})")
        return name

    @staticmethod
    def _task_for(instruction: str, task: str | None) -> str:
        words = " ".join(str(instruction).lower().replace("-", " ").split())
        by_text = {task_text(t): t for t in AVDC_TASKS}
        if words in by_text and (task is None or canonical_task(task) == by_text[words]):
            return by_text[words]
        raise DreamplanError(f"no Meta-World task reads {elided(str(instruction))!r}: the agents here are conditioned on a "
                             f"task's name ({', '.join(by_text)})")

    @staticmethod
    def _check_camera(camera: str) -> str:
        if camera not in ALL_CAMERAS:
            raise DreamplanError(f"unknown Meta-World camera {camera!r} (known: {', '.join(ALL_CAMERAS)})")
        return camera

    def _env_for(self, task: str):
        if task not in self._envs:
            from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

            cls = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{env_name(task)}-goal-observable"]
            with _global_numpy_seed(0):  # construction resets once, drawing from numpy's global generator
                mw = cls(seed=0)
            mw.model.vis.quality.offsamples = 0  # no multisampling: read before any GL context is made
            self._envs[task] = mw
        return self._envs[task]

    # ------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"task", "camera", "split", "instruction"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)} (known: task, camera, instruction; "
                             "split = camera)")
        if "instruction" in options:  # `dreamplan run "door open" env=metaworld`: the task whose text it is
            options["task"] = self._task_for(options.pop("instruction"), options.get("task"))
        if "camera" in options and "split" in options and options["camera"] != options["split"]:
            raise ValueError(f"reset options give camera={options['camera']!r} and split={options['split']!r}")
        task = self._check_task(options.get("task", self.task_id))
        camera = self._check_camera(options.get("camera", options.get("split", self.camera)))
        episode_seed = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        mw = self._env_for(task)
        # Exactly what Meta-World's goal-observable constructor does with `seed`, then the user's reset().
        with _global_numpy_seed(episode_seed):
            mw._freeze_rand_vec = False
            mw.reset()
            mw._freeze_rand_vec = True
            mw.seed(episode_seed)
        obs, _ = mw.reset()
        self._mw = mw
        self.camera = camera
        self.instance = MetaWorldInstance(task, camera, episode_seed, task_text(task))
        self.raw_observation = obs
        self._steps = 0
        self._success = False
        self._last_info = {}
        self._actions = []
        return self._obs(), self._info()

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (4,):
            raise ValueError(f"action must have 4 elements (dx, dy, dz, gripper), got shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action contains NaN or inf: {a.tolist()}")
        if self._mw is None:
            raise RuntimeError("call reset() before step()")
        if self._steps >= self.max_steps:
            raise RuntimeError(f"the episode is over ({self.max_steps} steps); call reset()")
        reward = self._physics_step(np.clip(a, -1.0, 1.0).astype(np.float32))
        truncated = not self._success and self._steps >= self.max_steps
        return self._obs(), reward, self._success, truncated, self._info()

    def _physics_step(self, action: np.ndarray) -> float:
        obs, reward, _, _, info = self._mw.step(action)
        self._actions.append(action)
        self.raw_observation = obs
        self._steps += 1
        self._success = bool(info.get("success", 0.0) >= 1.0)
        self._last_info = {k: float(v) for k, v in info.items() if np.isscalar(v)}
        return float(reward)

    def snapshot(self) -> dict:
        """The episode so far: its instance and the actions executed (Meta-World's state lives partly in Python
        attributes of its env, so a copy is rebuilt by replaying rather than by copying MuJoCo's state)."""
        return {"instance": self.instance.to_dict(), "actions": np.array(self._actions, np.float32).reshape(-1, 4)}

    def restore(self, snapshot: dict) -> None:
        """Put this env where `snapshot` was taken: reset to its scene, then replay its actions."""
        inst = snapshot["instance"]
        self.reset(seed=inst["seed"], options={"task": inst["task"], "camera": inst["camera"]})
        self.advance(snapshot["actions"])

    def advance(self, actions) -> None:
        """Execute in-range actions [N, 4] (as `step` after clipping) without rendering the observations:
        the fast path for replaying and for rolling a copy forward; `camera_image()` renders when needed."""
        actions = np.asarray(actions, np.float32).reshape(-1, 4)
        if self._mw is None or self._steps + len(actions) > self.max_steps:
            raise RuntimeError(f"advance by {len(actions)} steps from step {self._steps} of {self.max_steps}")
        for action in np.clip(actions, -1.0, 1.0):
            self._physics_step(action)

    def render(self):
        if self.render_mode == "rgb_array":
            return self.camera_image(self.render_size)
        return None

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()
        for mw in self._envs.values():
            mw.close()
        self._envs.clear()
        self._mw = None

    # ------------------------------------------------------------------------------------- helpers
    @property
    def steps(self) -> int:
        return self._steps

    def camera_image(self, size: int | None = None, camera: str | None = None) -> np.ndarray:
        """uint8 [size, size, 3] from `camera` (default: the episode's), upright (see the module docstring)."""
        if self._mw is None:
            raise RuntimeError("call reset() before rendering")
        size = int(size or self.image_size)
        camera = self._check_camera(camera or self.camera)
        key = (self.instance.task, size)
        if key not in self._renderers:
            self._renderers[key] = FastRenderer(self._mw.model, size, size, camera=camera)
        renderer = self._renderers[key]
        renderer.camera = camera
        frame = renderer.render(self._mw.data)
        return np.ascontiguousarray(frame[::-1]) if camera in _FLIPPED else frame.copy()

    def task_succeeded(self) -> bool:
        """Whether Meta-World reported success at the last step (it judges success only when stepping)."""
        return self._success

    @property
    def subgoal_progress(self) -> np.ndarray:
        return np.array([self._success])

    @property
    def subgoals(self) -> list[str]:
        return [self.instance.instruction]

    def state_vector(self) -> np.ndarray:
        return np.asarray(self.raw_observation, dtype=np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        state = self.state_vector()
        return {"image": self.camera_image(), "state": state, "proprio": state[:4].copy()}

    def _info(self) -> dict[str, Any]:
        inst = self.instance
        return {
            "task": inst.task,
            "instruction": inst.instruction,
            "camera": inst.camera,
            "seed": inst.seed,
            "subgoals": [inst.instruction],
            "subgoal_index": int(self._success),
            "subgoal_success": self.subgoal_progress,
            "success": self._success,
            "metaworld": dict(self._last_info),
        }
