"""README's results tables and benchmarks/RESULTS.md are what benchmarks/make_results.py makes of the JSON results:
no hand-typed figure, none stale."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_results_documents_are_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_results.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
