"""Our Meta-World v3 results beside AVDC's published Meta-World v2 figures (Ko et al. 2023, table 1).

    python benchmarks/metaworld_table.py RUN_DIR [--out benchmarks/results/metaworld_v3_scripted.json]

RUN_DIR is a `dreamplan eval suite=metaworld ...` run (its eval_info.json). Prints a markdown table (per task:
successes, rate, 95 % Wilson interval, and AVDC's v2 rate where quoted) and writes the compact JSON.

An agent that ignores the image (the scripted policy reads the state) has the same outcome from every camera for a
seed, so its 75 episodes per task are 25 independent ones: the table then also gives the interval over the seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from planner.evaluate import wilson_interval
from sim.metaworld import AVDC_TASKS

# AVDC's Meta-World v2 success rates (%), 75 episodes per task (3 cameras x 25 seeds); v2, not v3.
AVDC_V2 = {"door-open": 72.0, "door-close": 89.3, "handle-press": 81.3, "hammer": 8.0, "assembly": 6.7, "average": 43.1}
BASELINES_V2 = {"BC-Scratch": 16.2, "BC-R3M": 15.4, "UniPi": 6.1}  # averages over the 11 tasks, AVDC's table


def per_seed(info: dict, task: str | None = None) -> list[bool] | None:
    """One outcome per (task, seed) if every camera agreed on it (an image-blind agent), else None."""
    outcomes: dict[tuple[str, int], set[bool]] = {}
    for r in info["episodes"]:
        if task is None or r["task"] == task:
            outcomes.setdefault((r["task"], r["seed"]), set()).add(bool(r["success"]))
    if any(len(v) > 1 for v in outcomes.values()):
        return None
    return [next(iter(v)) for v in outcomes.values()]


def _seed_ci(outcomes: list[bool] | None) -> str:
    if outcomes is None:
        return "cameras differ"
    lo, hi = wilson_interval(sum(outcomes), len(outcomes))
    return f"{sum(outcomes)}/{len(outcomes)}: {lo:.1%}–{hi:.1%}"


def table(info: dict) -> tuple[str, dict]:
    summary = info["summary"]
    rows, compact = [], {}
    for task in [t for t in AVDC_TASKS if t in summary]:
        a = summary[task]
        cams = {k.split("/")[1]: summary[k]["success_rate"] for k in summary if k.startswith(f"{task}/")}
        compact[task] = {"successes": a["successes"], "episodes": a["episodes"], "success_rate": a["success_rate"],
                         "ci95": a["ci95"], "per_camera": cams, "mean_steps": a["mean_steps"]}
        seeds = per_seed(info, task)
        if seeds is not None:
            compact[task]["camera_invariant"] = {"successes": sum(seeds), "seeds": len(seeds),
                                                 "ci95": list(wilson_interval(sum(seeds), len(seeds)))}
        v2 = AVDC_V2.get(task)
        rows.append(f"| {task} | {a['successes']}/{a['episodes']} | {a['success_rate']:.1%} | "
                    f"{a['ci95'][0]:.1%}–{a['ci95'][1]:.1%} | {_seed_ci(seeds)} | {a['mean_steps']:.0f} | "
                    f"{'—' if v2 is None else f'{v2:.1f} %'} |")
    rates = [compact[t]["success_rate"] for t in compact]
    n, s = summary["all"]["episodes"], summary["all"]["successes"]
    lo, hi = wilson_interval(s, n)
    compact["average"] = {"successes": s, "episodes": n, "success_rate": float(np.mean(rates)), "ci95": [lo, hi]}
    seeds = per_seed(info)
    if seeds is not None:
        compact["average"]["camera_invariant"] = {"successes": sum(seeds), "seeds": len(seeds),
                                                  "ci95": list(wilson_interval(sum(seeds), len(seeds)))}
    rows.append(f"| **average** | {s}/{n} | {np.mean(rates):.1%} | {lo:.1%}–{hi:.1%} | {_seed_ci(seeds)} | "
                f"{summary['all']['mean_steps']:.0f} | {AVDC_V2['average']:.1f} % |")
    head = ["| task | successes (v3, ours) | success (v3, ours) | 95 % CI | same over cameras: seeds, 95 % CI | steps "
            "| AVDC (v2, theirs) |", "|---|---|---|---|---|---|---|"]
    return "\n".join(head + rows) + "\n", compact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", default="benchmarks/results/metaworld_v3_scripted.json")
    args = parser.parse_args()
    info = json.loads((Path(args.run_dir) / "eval_info.json").read_text())
    text, compact = table(info)
    print(text)
    config = info["config"]
    result = {"benchmark": "Meta-World v3 (metaworld 3.1.1, mujoco 3.3.0), AVDC protocol",
              "agent": config.get("agent", {}).get("_target_"), "cameras": info["splits"], "seeds": info["seeds"],
              "max_steps": config.get("env", {}).get("max_steps"), "image_size": config.get("env", {}).get("image_size"),
              "run_dir": str(args.run_dir), "results_v3": compact,
              "avdc_v2_published": {"AVDC": AVDC_V2, **{k: {"average": v} for k, v in BASELINES_V2.items()}}}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
