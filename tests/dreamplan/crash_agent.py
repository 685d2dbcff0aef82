"""Test-only agents for dreamplan eval's worker supervision (tests/dreamplan/test_eval_resume.py).

They live in a module of their own, not the test file, so spawned eval workers can import them (the test puts this
directory on PYTHONPATH and names `crash_agent.CrashingAgent` as the agent's `_target_`).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from dreamplan.baselines import ExpertAgent


class CrashingAgent(ExpertAgent):
    """The scripted expert, except that on seed `crash_seed` its process is SIGKILLed (as the OOM killer would) and
    on seed `sleep_seed` it first sleeps `sleep_s` seconds. Each attempt at `crash_seed` leaves a file in
    `marker_dir`, so a test can count them."""

    def __init__(self, crash_seed: int | None = None, sleep_seed: int | None = None, sleep_s: float = 0.0,
                 marker_dir: str | None = None):
        super().__init__()
        self.crash_seed, self.sleep_seed, self.sleep_s, self.marker_dir = crash_seed, sleep_seed, sleep_s, marker_dir

    def run(self, robot, instruction, on_event=None):
        seed = self._env.unwrapped.np_random_seed
        if seed == self.crash_seed:
            if self.marker_dir:
                Path(self.marker_dir).mkdir(parents=True, exist_ok=True)
                (Path(self.marker_dir) / f"attempt-{os.getpid()}").touch()
            os.kill(os.getpid(), signal.SIGKILL)
        if seed == self.sleep_seed:
            time.sleep(self.sleep_s)
        return super().run(robot, instruction, on_event=on_event)
