"""Eval runs on the same episodes, compared pair by pair against a baseline run.

    python benchmarks/paired_eval.py BASELINE_DIR [LABEL=]RUN_DIR [...] [--common] [--out benchmarks/results/paired.json]

Each dir is a `dreamplan eval ...` run (its eval_info.json) over the same (task, split, seed) episodes, as seeded
evals are. Two success rates inside each other's 95 % intervals can still differ: the paired view counts the
episodes only one of the two solves and gives the exact McNemar test on them (a two-sided binomial test of
those discordant episodes at 1/2). Prints a markdown table and writes the JSON.

`--common` compares on the episodes every run holds (a run over a subset of the baseline's seeds); every row,
the baseline's too, then counts only those, and the JSON marks the rows `common`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy.stats import binomtest

from dreamplan.evaluate import wilson_interval
from sim.errors import DreamplanError
from training.atomic import atomic_write


def outcomes(run_dir: Path) -> dict[tuple[str, str, int], bool]:
    path = run_dir / "eval_info.json"
    if not path.is_file():
        raise DreamplanError(f"{run_dir} is not an eval run (no eval_info.json)")
    return {(r["task"], r["split"], r["seed"]): bool(r["success"]) for r in json.loads(path.read_text())["episodes"]}


def paired(baseline: dict, other: dict) -> dict:
    if baseline.keys() != other.keys():
        missing = len(baseline.keys() ^ other.keys())
        raise DreamplanError(f"the runs are not over the same episodes ({missing} episodes in only one of them)")
    only_other = sum(other[k] and not baseline[k] for k in baseline)
    only_baseline = sum(baseline[k] and not other[k] for k in baseline)
    discordant = only_other + only_baseline
    p = binomtest(only_other, discordant, 0.5).pvalue if discordant else 1.0
    return {"episodes": len(other), "successes": sum(other.values()), "only_this": only_other,
            "only_baseline": only_baseline, "mcnemar_p": float(p)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("baseline", type=Path)
    p.add_argument("runs", nargs="+", help="[LABEL=]RUN_DIR")
    p.add_argument("--common", action="store_true", help="compare on the episodes every run holds")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/paired.json"))
    args = p.parse_args()
    try:
        base = outcomes(args.baseline)
        runs = {}
        for spec in args.runs:
            label, _, path = spec.rpartition("=")
            runs[label or Path(path).name] = (path, outcomes(Path(path)))
        if args.common:
            keys = set(base).intersection(*(o.keys() for _, o in runs.values()))
            if not keys:
                raise DreamplanError("the runs have no episode in common")
            base = {k: v for k, v in base.items() if k in keys}
            runs = {label: (path, {k: v for k, v in o.items() if k in keys}) for label, (path, o) in runs.items()}
        mark = {"common": True} if args.common else {}
        rows = {f"{args.baseline.name} (baseline)": {"run": str(args.baseline), **paired(base, base), **mark}}
        for label, (path, o) in runs.items():
            rows[label] = {"run": path, **paired(base, o), **mark}
    except DreamplanError as e:
        raise SystemExit(f"error: {e}") from None
    print(f"| run | success | 95 % CI | only it solves | only {args.baseline.name} solves | McNemar p |")
    print("|---|---|---|---|---|---|")
    for i, (label, r) in enumerate(rows.items()):
        lo, hi = wilson_interval(r["successes"], r["episodes"])
        paired_cols = f"{r['only_this']} | {r['only_baseline']} | {r['mcnemar_p']:.2g}" if i else "— | — | —"
        print(f"| {label} | {r['successes']}/{r['episodes']} | {lo:.0%}–{hi:.0%} | {paired_cols} |")
    atomic_write(args.out, json.dumps(rows, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
