"""benchmarks/paired_eval.py: the same episodes pair by pair, and `--common` for a run over a subset of seeds."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(directory: Path, outcomes: dict[int, bool]) -> Path:
    directory.mkdir()
    episodes = [{"task": "door-open", "split": "corner", "seed": s, "success": ok} for s, ok in outcomes.items()]
    (directory / "eval_info.json").write_text(json.dumps({"episodes": episodes}))
    return directory


def _paired(*args):
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "paired_eval.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def test_paired_counts_the_episodes_only_one_run_solves_and_common_restricts_to_shared_seeds(tmp_path):
    base = _run(tmp_path / "base", {0: True, 1: False, 2: True, 3: False, 4: True})
    sub = _run(tmp_path / "sub", {0: False, 1: True, 2: True})
    out = tmp_path / "paired.json"
    refused = _paired(base, sub, "--out", out)
    assert refused.returncode != 0 and "not over the same episodes (2 episodes" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not out.exists()
    done = _paired(base, f"student={sub}", "--common", "--out", out)
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())
    assert rows["base (baseline)"]["episodes"] == 3 and rows["base (baseline)"]["successes"] == 2
    assert rows["student"] == {"run": str(sub), "episodes": 3, "successes": 2, "only_this": 1, "only_baseline": 1,
                               "mcnemar_p": 1.0, "common": True}
    disjoint = _run(tmp_path / "other", {7: True})
    none = _paired(base, disjoint, "--common", "--out", out)
    assert none.returncode != 0 and "no episode in common" in none.stderr
