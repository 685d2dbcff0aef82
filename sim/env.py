"""The tabletop Gymnasium environment: a planar pusher, 1-6 colored blocks, a language task.

Action: a 2-D displacement of the pusher in [-1, 1]^2, scaled by `max_step` metres per step. Actions out of
that box are clipped (documented behaviour, like Language-Table); NaN or inf raises ValueError.
Observation: {"image": uint8 [S, S, 3] from the fixed top camera, "state": float32 [2 + 4 * MAX_BLOCKS],
"proprio": float32 [2]} with state = pusher (x, y), then per block slot (present, x, y, yaw) in scene order, and
proprio = the pusher's (x, y), what the robot senses of itself (agents see image and proprio only: dreamplan.robot).
Info: task, instruction, subgoals (reference plan, canonical text), subgoal_index (first unfinished),
subgoal_success (bool per reference subgoal: reached in order), success (task predicate holds).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from sim.render import FastRenderer
from sim.scene import BLOCK_HALF, MAX_BLOCKS, PUSHER_RADIUS, PUSHER_RANGE, WORKSPACE_HALF, Block, scene_xml
from sim.errors import DreamplanError, elided
from sim.targets import GroundingError, Target
from sim.tasks import EVAL_SEED_BASE, TASKS, Instance, get_task, match_instruction, meets, split_accepts

STATE_DIM = 2 + 4 * MAX_BLOCKS
SUBSTEPS = 25  # 25 x 2 ms: the policy acts at 20 Hz
MIN_BLOCK_GAP = 0.1
_MODEL_CACHE_SIZE = 16


@dataclass
class _Compiled:
    model: mujoco.MjModel
    data: mujoco.MjData
    block_qpos: np.ndarray  # qpos address of each block's free joint
    renderers: dict


class TabletopEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        task: str | None = None,
        split: str = "train",
        image_size: int = 64,
        render_mode: str | None = None,
        render_size: int | None = None,
        max_step: float = 0.02,
        steps_per_subgoal: int = 100,
    ):
        if task is not None:
            get_task(task)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r} (known: rgb_array)")
        self.task_id = task
        self.split = split
        self.image_size = int(image_size)
        self.render_mode = render_mode
        self.render_size = int(render_size or image_size)
        self.max_step = float(max_step)
        self.steps_per_subgoal = int(steps_per_subgoal)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict(
            {
                "image": gym.spaces.Box(0, 255, shape=(self.image_size, self.image_size, 3), dtype=np.uint8),
                "state": gym.spaces.Box(-np.pi, np.pi, shape=(STATE_DIM,), dtype=np.float32),
                "proprio": gym.spaces.Box(-PUSHER_RANGE, PUSHER_RANGE, shape=(2,), dtype=np.float32),
            }
        )
        self._cache: OrderedDict[tuple[Block, ...], _Compiled] = OrderedDict()
        self._sim: _Compiled | None = None
        self.instance: Instance | None = None
        self.subgoals: list[Target] = []

    # ----------------------------------------------------------------------------------------- scene
    def _compile(self, blocks: tuple[Block, ...]) -> _Compiled:
        if blocks in self._cache:
            self._cache.move_to_end(blocks)
            return self._cache[blocks]
        model = mujoco.MjModel.from_xml_string(scene_xml(blocks))
        addr = np.array([model.jnt_qposadr[model.joint(b.body).id] for b in blocks])
        compiled = _Compiled(model, mujoco.MjData(model), addr, {})
        self._cache[blocks] = compiled
        if len(self._cache) > _MODEL_CACHE_SIZE:
            _, old = self._cache.popitem(last=False)
            for r in old.renderers.values():
                r.close()
        return compiled

    @property
    def blocks(self) -> tuple[Block, ...]:
        return self.instance.blocks

    def block_positions(self) -> dict[Block, np.ndarray]:
        q = self._sim.data.qpos
        return {b: q[a : a + 2].copy() for b, a in zip(self.blocks, self._sim.block_qpos)}

    def pusher_position(self) -> np.ndarray:
        return self._sim.data.qpos[:2].copy()

    def _place(self, positions: dict[Block, np.ndarray], yaws: dict[Block, float], pusher: np.ndarray) -> None:
        m, d = self._sim.model, self._sim.data
        mujoco.mj_resetData(m, d)
        d.qpos[:2] = pusher
        d.ctrl[:] = pusher
        for b, a in zip(self.blocks, self._sim.block_qpos):
            yaw = yaws.get(b, 0.0)
            d.qpos[a : a + 7] = [*positions[b], BLOCK_HALF, np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
        mujoco.mj_forward(m, d)

    def _sample_layout(self, blocks: tuple[Block, ...]):
        lo = WORKSPACE_HALF - BLOCK_HALF
        for _ in range(1000):
            pts = self.np_random.uniform(-lo, lo, size=(len(blocks) + 1, 2))
            dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(len(pts))
            if dist[:-1, :-1].min() >= MIN_BLOCK_GAP and dist[-1, :-1].min() >= BLOCK_HALF * 1.5 + PUSHER_RADIUS + 0.02:
                positions = {b: p for b, p in zip(blocks, pts[:-1])}
                yaws = {b: float(self.np_random.uniform(-np.pi / 4, np.pi / 4)) for b in blocks}
                return positions, yaws, pts[-1]
        raise RuntimeError(f"could not place {len(blocks)} blocks without overlap")

    # ------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"task", "words", "split", "instruction", "instance", "positions", "yaws", "pusher"}
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)} "
                             "(known: task, words, split, instruction, instance, positions, yaws, pusher)")
        split = options.get("split", self.split)
        if "instance" in options:
            self._reset_to(options)
        elif "instruction" in options:
            self._reset_for_instruction(options["instruction"], split)
        else:
            task_id = options.get("task", self.task_id)
            task = get_task(task_id) if task_id is not None else TASKS[self.np_random.choice(sorted(TASKS))]
            self._reset_sampled(task.id, split, words=options.get("words"))
        self._steps = 0
        self._done = np.zeros(len(self.subgoals), dtype=bool)
        self._advance()
        return self._obs(), self._info()

    def _reset_for_instruction(self, text: str, split: str) -> None:
        """A scene in which `text` (an instruction some task template produces) makes sense."""
        match = match_instruction(text)
        if match is None:
            raise GroundingError(f"no task understands the instruction {elided(text)!r} (tasks: {', '.join(TASKS)})")
        self._reset_sampled(match[0], split, words=match[1])
        self.instance.instruction = text

    def _reset_sampled(self, task_id: str, split: str, words: dict | None = None) -> None:
        """A scene of `split` for the task (with `words`: one its instruction's words fit). A user's own words
        may name a combination `split` holds out (e.g. a held-out block and corner): when a few hundred tries
        find no scene of the split, any scene the words fit is taken."""
        task = get_task(task_id)
        for attempt in range(5000):
            inst = task.sample(self.np_random, split)
            if words and not meets(inst, words):
                continue
            self.instance = inst
            self._sim = self._compile(inst.blocks)
            positions, yaws, pusher = self._sample_layout(inst.blocks)
            targets = task.decompose(inst.params, inst.blocks, positions)
            if (
                len(targets) >= task.min_subgoals
                and not task.succeeded(inst.params, inst.blocks, positions)
                and (split_accepts(targets, split) or (words is not None and attempt >= 300))
            ):
                self._place(positions, yaws, pusher)
                self.subgoals = targets
                return
        raise DreamplanError(f"could not sample a {split!r} scene for task {task_id!r}" + (f" with {words}" if words else ""))

    def _reset_to(self, options: dict[str, Any]) -> None:
        """Put an exact scene on the table: options = {instance: {...}, positions: [[x, y], ...], pusher: [x, y]}."""
        spec = options["instance"]
        try:
            blocks = tuple(Block(*b) for b in spec["blocks"])
            inst = Instance(spec["task"], blocks, dict(spec.get("params", {})), spec.get("instruction", ""))
            task = get_task(inst.task)
            positions = {b: np.asarray(p, dtype=float) for b, p in zip(blocks, options["positions"])}
            yaws = dict(zip(blocks, options.get("yaws", [0.0] * len(blocks))))
            pusher = np.asarray(options.get("pusher", [0.0, -WORKSPACE_HALF]), dtype=float)
        except (KeyError, TypeError) as e:
            raise ValueError(f"malformed reset options: {e!r}; need instance={{task, blocks}}, positions, pusher") from None
        if len(positions) != len(blocks):
            raise ValueError(f"reset options give {len(positions)} positions for {len(blocks)} blocks")
        self.instance = inst
        self._sim = self._compile(blocks)
        self._place(positions, yaws, pusher)
        self.subgoals = task.decompose(inst.params, blocks, self.block_positions())

    def step(self, action):
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (2,):
            raise ValueError(f"action must have 2 elements (dx, dy), got shape {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action contains NaN or inf: {a.tolist()}")
        if self._sim is None:
            raise RuntimeError("call reset() before step()")
        a = np.clip(a, -1.0, 1.0)
        m, d = self._sim.model, self._sim.data
        d.ctrl[:] = np.clip(d.ctrl + a * self.max_step, -PUSHER_RANGE, PUSHER_RANGE)
        mujoco.mj_step(m, d, nstep=SUBSTEPS)
        self._steps += 1
        self._advance()
        success = self.task_succeeded()
        truncated = not success and self._steps >= self.step_budget
        return self._obs(), float(success), success, truncated, self._info()

    @property
    def step_budget(self) -> int:
        return self.steps_per_subgoal * max(1, len(self.subgoals))

    def render(self):
        if self.render_mode == "rgb_array":
            return self.camera_image(self.render_size)
        return None

    def close(self) -> None:
        for compiled in self._cache.values():
            for r in compiled.renderers.values():
                r.close()
        self._cache.clear()
        self._sim = None

    # ------------------------------------------------------------------------------------- helpers
    def camera_image(self, size: int | None = None) -> np.ndarray:
        size = int(size or self.image_size)
        renderers = self._sim.renderers
        if size not in renderers:
            renderers[size] = FastRenderer(self._sim.model, size, size)
        return renderers[size].render(self._sim.data).copy()

    def _advance(self) -> None:
        """Mark reference subgoals reached in order (a later one counts only once those before it did)."""
        pos = self.block_positions()
        i = int(self._done.sum())
        while i < len(self.subgoals) and self.subgoals[i].satisfied(pos):
            self._done[i] = True
            i += 1

    @property
    def subgoal_progress(self) -> np.ndarray:
        """Bool per reference subgoal: reached, in order."""
        return self._done.copy()

    def task_succeeded(self) -> bool:
        inst = self.instance
        return bool(get_task(inst.task).succeeded(inst.params, inst.blocks, self.block_positions()))

    def check(self, target: Target) -> bool:
        """Whether any target (e.g. one a planner produced) holds in the current state."""
        missing = [b.name for b in target.blocks if b not in self.blocks]
        if missing:
            raise GroundingError(f"subgoal {target.text!r} names {', '.join(missing)}, which is not on the table")
        return target.satisfied(self.block_positions())

    def state_vector(self) -> np.ndarray:
        s = np.zeros(STATE_DIM, dtype=np.float32)
        q = self._sim.data.qpos
        s[:2] = q[:2]
        for i, a in enumerate(self._sim.block_qpos):
            w, z = q[a + 3], q[a + 6]
            yaw = (2 * np.arctan2(z, w) + np.pi) % (2 * np.pi) - np.pi
            s[2 + 4 * i : 6 + 4 * i] = [1.0, q[a], q[a + 1], yaw]
        return s

    def _obs(self) -> dict[str, np.ndarray]:
        state = self.state_vector()
        return {"image": self.camera_image(), "state": state, "proprio": state[:2].copy()}

    def _info(self) -> dict[str, Any]:
        return {
            "task": self.instance.task,
            "instruction": self.instance.instruction,
            "subgoals": [t.text for t in self.subgoals],
            "subgoal_index": int(self._done.sum()),
            "subgoal_success": self.subgoal_progress,
            "success": self.task_succeeded(),
        }

    def scene(self) -> dict[str, Any]:
        """The current scene as reset options (`reset(options=env.scene())` puts the same table back), JSON."""
        state = self.state_vector()
        return {"instance": {"task": self.instance.task, "blocks": [[b.color, b.shape] for b in self.blocks],
                             "params": self.instance.params, "instruction": self.instance.instruction},
                "positions": [p.tolist() for p in self.block_positions().values()],
                "yaws": [float(state[5 + 4 * i]) for i in range(len(self.blocks))],
                "pusher": self.pusher_position().tolist()}

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to put an identical simulator elsewhere (`restore`), JSON-serialisable."""
        d = self._sim.data
        return {
            "instance": {"task": self.instance.task, "blocks": [[b.color, b.shape] for b in self.blocks],
                         "params": self.instance.params, "instruction": self.instance.instruction},
            "subgoals": [t.to_dict() for t in self.subgoals],
            "done": self._done.tolist(),
            "steps": self._steps,
            "qpos": d.qpos.tolist(), "qvel": d.qvel.tolist(), "ctrl": d.ctrl.tolist(), "act": d.act.tolist(), "time": d.time,
            "qacc_warmstart": d.qacc_warmstart.tolist(),  # the solver's warm start: without it replay drifts by a pixel
        }

    def restore(self, snap: dict[str, Any]) -> None:
        inst = snap["instance"]
        self.instance = Instance(inst["task"], tuple(Block(*b) for b in inst["blocks"]), dict(inst["params"]), inst["instruction"])
        self._sim = self._compile(self.instance.blocks)
        m, d = self._sim.model, self._sim.data
        mujoco.mj_resetData(m, d)
        d.qpos[:], d.qvel[:], d.ctrl[:] = snap["qpos"], snap["qvel"], snap["ctrl"]
        if m.na:
            d.act[:] = snap["act"]
        d.time = snap["time"]
        mujoco.mj_forward(m, d)
        d.qacc_warmstart[:] = snap["qacc_warmstart"]
        self.subgoals = [Target.from_dict(t) for t in snap["subgoals"]]
        self._done = np.array(snap["done"], dtype=bool)
        self._steps = int(snap["steps"])

    def scene_json(self) -> str:
        return json.dumps(self.snapshot()["instance"])

    def mujoco_warnings(self) -> dict[str, int]:
        d = self._sim.data
        return {mujoco.mjtWarning(i).name: int(w.number) for i, w in enumerate(d.warning) if w.number > 0}


def eval_seed(i: int) -> int:
    return EVAL_SEED_BASE + i
