"""Meta-World's scripted policy for a task (`metaworld.policies.ENV_POLICY_MAP`), acting in a MetaWorldEnv."""

from __future__ import annotations

import warnings

import numpy as np

from sim.metaworld import env_name, require_metaworld


class MetaWorldExpert:
    """Reads Meta-World's own float64 observation (what its policies were written against) and returns the
    clipped 4-D action, i.e. exactly what the env executes."""

    def __init__(self, task: str):
        require_metaworld()
        from metaworld.policies import ENV_POLICY_MAP

        # Its move() helper warns on every call whose gain saturates the [-1, 1] box; the env clips, as it says.
        warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high", category=UserWarning)
        self.task = task
        self.policy = ENV_POLICY_MAP[env_name(task)]()

    def act(self, raw_observation: np.ndarray) -> np.ndarray:
        return np.clip(self.policy.get_action(raw_observation), -1.0, 1.0).astype(np.float32)

    def act_in(self, env) -> np.ndarray:
        return self.act(env.unwrapped.raw_observation)
