"""dreamplan eval's throughput on 2 CPUs: launcher=local (a pool of 2 worker processes) vs launcher=ray (a local Ray
instance with 2 CPUs), the same eval measured in one run.

    python benchmarks/launcher_speed.py [--agent expert] [--suite tabletop-single] [--episodes 10 100]
                                        [--out benchmarks/results/launcher_speed.json]

Each figure is one whole `dreamplan eval ... videos=false attribute=false` command in a fresh process, timed from
start to exit, as a user waits for it: imports, worker start-up (and Ray's cluster start) included. `--episodes` are
per task; a larger count shows the launchers' steady rate, where start-up matters less. Both launchers must give the
same episodes on the same seeds (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCHERS = {"local": ["launcher=local", "workers=2"], "ray": ["launcher=ray", "workers=2"]}


def timed_eval(overrides: list[str], out: Path) -> tuple[float, dict]:
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"), OMP_NUM_THREADS="1")
    env.pop("RAY_ADDRESS", None)  # a local Ray instance with 2 CPUs, not whatever cluster this shell points at
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dreamplan.cli", "eval", *overrides, f"out={out}"], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"launcher_speed: the eval failed:\n{done.stderr[-3000:]}")
    return seconds, json.loads((out / "eval_info.json").read_text())


def outcomes(info: dict) -> list:
    return [{k: v for k, v in ep.items() if k not in ("wall_s", "timings")} for ep in info["episodes"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent", default="expert")
    ap.add_argument("--suite", default="tabletop-single")
    ap.add_argument("--episodes", type=int, nargs="+", default=[10, 100], help="per task; one measurement each")
    ap.add_argument("--out", default="benchmarks/results/launcher_speed.json")
    args = ap.parse_args()

    import ray

    load = os.getloadavg()[0]  # other jobs sharing the cores slow both launchers alike, and are noted with the result
    rows = []
    with tempfile.TemporaryDirectory(prefix="launcher-speed-") as tmp:
        for episodes in args.episodes:
            common = [f"agent={args.agent}", f"suite={args.suite}", f"episodes={episodes}", "videos=false",
                      "attribute=false"]
            row = {"episodes_per_task": episodes, "overrides": common}
            infos = {}
            for name, launcher in LAUNCHERS.items():
                seconds, infos[name] = timed_eval([*common, *launcher], Path(tmp) / f"{name}-{episodes}")
                n = len(infos[name]["episodes"])
                row[name] = {"overrides": launcher, "episodes": n, "seconds": seconds, "episodes_per_s": n / seconds}
                print(f"{name:5s} {n:4d} episodes: {seconds:6.1f} s", flush=True)
            row["same_outcomes"] = outcomes(infos["local"]) == outcomes(infos["ray"])
            row["ray_over_local"] = row["ray"]["episodes_per_s"] / row["local"]["episodes_per_s"]
            if not row["same_outcomes"]:
                sys.exit("launcher_speed: the launchers gave different episodes on the same seeds")
            rows.append(row)

    print(f"\n{'episodes':>8} | {'local (2 workers)':>22} | {'ray (2 CPUs)':>22} | ray / local")
    print(f"{'-' * 8}-|-{'-' * 22}-|-{'-' * 22}-|------------")
    for r in rows:
        cells = [f"{r[k]['seconds']:6.1f} s, {r[k]['episodes_per_s']:5.2f} ep/s" for k in ("local", "ray")]
        print(f"{r['local']['episodes']:8d} | {cells[0]:>22} | {cells[1]:>22} | {r['ray_over_local']:.2f}")
    print("(whole commands: imports and worker start-up, and Ray's cluster start, included)")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"agent": args.agent, "suite": args.suite, "cpus": 2, "rows": rows,
                               "load_average_at_start": round(load, 2), "ray": ray.__version__,
                               "machine": platform.platform()}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
