"""The fault-injection cases of benchmarks/faults.py, each a test: real `dreamplan` processes killed, interrupted,
starved of disk or fed bad input; each must end with the expected exit code and one `dreamplan:` line (no
traceback), without hanging, orphaning workers or losing anything finished. (The 200-episode case runs only in the
benchmark.)"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_faults():
    spec = importlib.util.spec_from_file_location("faults", ROOT / "benchmarks" / "faults.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


faults = _load_faults()


@pytest.mark.integration
@pytest.mark.parametrize("case", [c for c in faults.CASES if not c.slow], ids=lambda c: c.name)
def test_fault_is_one_line_and_loses_nothing(case):
    row = faults.run_case(case)
    assert row["ok"], f"{case.fault}: " + "; ".join(row["failures"])


def test_the_check_catches_each_way_a_case_can_go_wrong():
    case = faults.Case("x", "x", 2, r"^dreamplan: error: no space", scenario=None)
    good = faults.Observed(code=2, line="dreamplan: error: no space left", error_lines=1, traceback=False, hang=False)
    assert case.check(good) == []
    bad = [
        faults.Observed(code=None, line="", error_lines=0, traceback=False, hang=True),
        faults.Observed(code=1, line="dreamplan: error: no space left", error_lines=1, traceback=True, hang=False),
        faults.Observed(code=2, line="dreamplan: error: a / dreamplan: error: b", error_lines=2, traceback=False,
                        hang=False),
        faults.Observed(code=2, line="dreamplan: error: no space left", error_lines=1, traceback=False, hang=False,
                        orphans=1),
        faults.Observed(code=2, line="dreamplan: error: no space left", error_lines=1, traceback=False, hang=False,
                        lost={"episodes": 0, "shards": 1, "bytes": 20000}),
    ]
    for observed in bad:
        assert case.check(observed), observed


def test_stderr_other_than_progress_bars_and_the_error_line_is_a_problem():
    done = faults.Finished(2, "", "eval:  50%|#####     | 1/2 [00:01<00:01,  1.0ep/s]\rdreamplan: error: x\n")
    assert faults.observe(done).problems == []
    noisy = faults.Finished(2, "", "Error opening output file x.mp4.\ndreamplan: error: x\n")
    assert faults.observe(noisy).problems
