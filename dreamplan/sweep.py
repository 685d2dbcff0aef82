"""dreamplan eval -m (--multirun): one eval per combination of swept values, then one table that compares them.

`dreamplan eval -m videomodel=oracle,dit_pretrained seed=0,20` expands its overrides as Hydra's basic sweeper does
(Hydra's own override parser; the cartesian product of every `a,b`, `range(…)`, `choice(…)` or `glob(…)`) and runs one
eval per combination into <out>/<key=value,...>/, named by the swept values (`out=` names the sweep's folder; default
runs/sweep/<time>). Each is an ordinary resumable eval, so re-running the sweep with the same out= resumes them all.
<out>/sweep.md and <out>/sweep.json then hold one row per configuration: successes/episodes, rate, Wilson interval.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig

from dreamplan.hydra_text import literal
from sim.errors import DreamplanError
from training.atomic import atomic_write


def _parse(overrides: list[str]) -> list:
    """Hydra's Override objects; a config loader is given so that glob() can list a group's options."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        with initialize_config_module("configs", version_base="1.3"):
            return OverridesParser.create(config_loader=GlobalHydra.instance().config_loader()).parse_overrides(overrides)
    except HydraException as e:
        raise DreamplanError(f"bad sweep override: {str(e).strip().splitlines()[0]}") from None


def expand(overrides: list[str]) -> tuple[list[list[str]], list[str], str | None]:
    """(one override list per configuration, the swept keys, the given out or None), as Hydra's BasicSweeper splits
    a multirun's arguments."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.errors import HydraException

    parsed = _parse(overrides)
    out = None
    for o in parsed:
        if o.get_key_element() == "out":
            if o.is_sweep_override():
                raise DreamplanError("out= names the sweep's folder and cannot be swept")
            out = str(o.value())
    swept = list(dict.fromkeys(o.get_key_element() for o in parsed if o.is_sweep_override()))
    try:
        (jobs,) = BasicSweeper.split_arguments([o for o in parsed if o.get_key_element() != "out"], None)
    except HydraException as e:
        raise DreamplanError(f"bad sweep override: {str(e).strip().splitlines()[0]}") from None
    return jobs, swept, out


def folder_name(job: list[str], swept: list[str]) -> str:
    """Hydra's override_dirname of the swept values, `key=value,...` ("base" when nothing is swept)."""
    parts = [o for o in job if o.split("=", 1)[0] in swept]
    return (",".join(parts) or "base").replace("/", "_")


def comparison_table(rows: list[dict]) -> str:
    lines = ["| configuration | success | rate | 95 % CI (Wilson) | folder |", "|---|---|---|---|---|"]
    for r in rows:
        label = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "base"
        lines.append(f"| {label} | {r['successes']}/{r['episodes']} | {r['success_rate']:.0%} "
                     f"| {r['ci95'][0]:.0%}–{r['ci95'][1]:.0%} | {r['folder']} |")
    return "\n".join(lines) + "\n"


def run_sweep(config_name: str, overrides: list[str], compose: Callable[[str, list[str]], DictConfig],
              run: Callable[..., None]) -> list[dict]:
    """Compose every configuration first (a bad one stops the sweep before any runs, as Hydra's sweeper checks), then
    run each with `run(cfg, overrides=...)` and write the comparison table."""
    jobs, swept, out = expand(overrides)
    root = Path(out or f"runs/sweep/{time.strftime('%Y%m%d-%H%M%S')}")
    planned = []
    for job in jobs:
        folder = root / folder_name(job, swept)
        job_overrides = [*job, f"out={literal(str(folder))}"]
        planned.append((job, folder, job_overrides, compose(config_name, job_overrides)))
    for i, (job, folder, job_overrides, cfg) in enumerate(planned, 1):
        print(f"sweep {i}/{len(planned)}: {folder.name}", flush=True)
        run(cfg, overrides=job_overrides)
    rows = []
    for job, folder, _, _ in planned:
        everything = json.loads((folder / "eval_info.json").read_text())["summary"]["all"]
        values = dict(o.split("=", 1) for o in job)
        rows.append({"overrides": {k: values[k] for k in swept}, "folder": folder.name,
                     **{k: everything[k] for k in ("episodes", "successes", "success_rate", "ci95")}})
    common = [o for o in jobs[0] if o.split("=", 1)[0] not in swept]
    atomic_write(root / "sweep.json", json.dumps({"overrides": overrides, "common": common, "swept": swept,
                                                  "configurations": rows}, indent=2))
    table = comparison_table(rows)
    atomic_write(root / "sweep.md", f"# dreamplan eval -m {' '.join(overrides)}\n\n{table}")
    print(table)
    print(f"wrote {root}/sweep.md, sweep.json and one eval folder per configuration")
    return rows
