"""Without the optional Meta-World extra the package still works, and asking for Meta-World says how to install it."""

import importlib.util
import subprocess
import sys

import pytest

from sim.metaworld import AVDC_TASKS, MetaWorldMissing, task_text

pytestmark = pytest.mark.skipif(importlib.util.find_spec("metaworld") is not None,
                                reason="the metaworld extra is installed here; this checks a venv without it")


def test_missing_extra_is_a_one_line_install_hint():
    from sim.metaworld.env import MetaWorldEnv

    with pytest.raises(MetaWorldMissing, match=r"pip install -e '\.\[metaworld\]'.*mujoco==3\.3\.0"):
        MetaWorldEnv("door-open")
    assert len(AVDC_TASKS) == 11 and task_text("button-press-topdown") == "button press topdown"


@pytest.mark.integration
def test_cli_says_how_to_install_it():
    proc = subprocess.run([sys.executable, "-m", "dreamplan.cli", "eval", "suite=metaworld"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("dreamplan: error: Meta-World is not installed")
