"""`dreamplan run "ANY SENTENCE"`: the scene is chosen apart from the sentence (task=, scene=, or the task the
planner reads in it), the sentence goes to the shipped planner as typed, and the output says how it is scored."""

from __future__ import annotations

import json

import pytest

from tests.dreamplan.test_cli import _dreamplan

FAST = ["videomodel=oracle", "agent.num_samples=1"]  # the planner is the shipped one; imagination is the oracle's


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("sentence", ["could you push the red cube into the upper right corner?",
                                      "red cube -> top right"])
def test_a_polite_question_and_a_terse_command_succeed_in_a_task_scene(tmp_path, sentence):
    proc = _dreamplan(["run", sentence, "task=push_to_corner", "seed=1", *FAST, "out=run.gif"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "scored by: the push_to_corner task predicate" in proc.stdout
    assert "push the red cube to the top right corner" in proc.stdout and "success after" in proc.stdout


@pytest.mark.slow
@pytest.mark.integration
def test_a_saved_scene_plays_a_sentence_no_task_asks(tmp_path):
    proc = _dreamplan(["scene", "task=push_to_corner", "seed=1", "out=table.json"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    scene = json.loads((tmp_path / "table.json").read_text())
    blocks = [" ".join(b) for b in scene["instance"]["blocks"]]
    assert scene["instance"]["params"]["block"] == "yellow cylinder" and "orange cylinder" in blocks
    # the scene's task moves the yellow cylinder to a corner; the sentence asks for something else there
    proc = _dreamplan(["run", "please put the orange cylinder in the middle", "scene=table.json", *FAST,
                       "out=run.gif"], cwd=tmp_path)
    assert "scored by: the last plan subgoals holding at the end" in proc.stdout, proc.stdout + proc.stderr
    assert "push the orange cylinder to the center" in proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_sentence_with_no_task_and_no_scene_is_one_line(tmp_path):
    proc = _dreamplan(["run", "tell me a joke"], cwd=tmp_path, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("Loading")]
    assert proc.returncode == 2 and len(lines) == 1 and "finds no task" in lines[0] and "task=" in lines[0], proc.stderr
