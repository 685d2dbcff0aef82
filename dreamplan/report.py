"""`dreamplan report RUN_DIR`: one self-contained HTML page for one or many evaluation runs.

RUN_DIR holds an eval_info.json or sub-directories that do (a sweep). The page has the success table per task
and split with 95 % intervals, a comparison across runs, plots of success against every numeric config value
that varies across runs (e.g. K samples, sampling steps) and of the time spent per component, and each
episode's imagined-vs-real video, embedded so the file can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

from sim.errors import DreamplanError
from training.atomic import atomic_write


def load_runs(run_dir: str | Path) -> list[tuple[str, Path, dict]]:
    root = Path(run_dir)
    if not root.exists():
        raise DreamplanError(f"{root}: no such run directory")
    paths = sorted(root.glob("eval_info.json")) or sorted(root.glob("**/eval_info.json"))
    if not paths:
        raise DreamplanError(f"{root}: no eval_info.json in it or below it (run `dreamplan eval out={root}` first)")
    runs = []
    for p in paths:
        try:
            info = json.loads(p.read_text())
            info["summary"], info["episodes"]  # noqa: B018 -- the fields the page needs
        except (json.JSONDecodeError, KeyError) as e:
            raise DreamplanError(f"{p}: not a readable eval_info.json ({e})") from None
        name = str(p.parent.relative_to(root)) if p.parent != root else root.name
        runs.append((name, p.parent, info))
    return runs


def _flatten(cfg, prefix="") -> dict:
    out = {}
    for k, v in (cfg or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def varying_numeric_keys(runs) -> list[str]:
    flats = [_flatten(info.get("config")) for _, _, info in runs]
    keys = set().union(*flats) if flats else set()
    out = []
    for k in sorted(keys):
        values = [f.get(k) for f in flats]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and len(set(values)) > 1:
            if k not in ("seed", "episodes", "workers"):
                out.append(k)
    return out


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()[buf.getvalue().index("<svg"):]


def success_plot(runs, key: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted((_flatten(info["config"])[key], info["summary"]["all"]) for _, _, info in runs)
    xs = [x for x, _ in pts]
    ys = [a["success_rate"] * 100 for _, a in pts]
    lo = [y - a["ci95"][0] * 100 for y, (_, a) in zip(ys, pts)]
    hi = [a["ci95"][1] * 100 - y for y, (_, a) in zip(ys, pts)]
    fig, ax = plt.subplots(figsize=(4.2, 2.8))
    ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3)
    ax.set_xlabel(key)
    ax.set_ylabel("success %")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def latency_plot(runs) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    components = sorted({c for _, _, info in runs for c in info["summary"]["all"]["seconds_per_episode"]})
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(runs)))
    left = [0.0] * len(runs)
    for c in components:
        vals = [info["summary"]["all"]["seconds_per_episode"].get(c, 0.0) for _, _, info in runs]
        ax.barh([n for n, _, _ in runs], vals, left=left, label=c)
        left = [a + b for a, b in zip(left, vals)]
    ax.set_xlabel("seconds per episode")
    ax.legend(fontsize=7, ncols=min(4, len(components)), loc="lower right")
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _pct(a: dict) -> str:
    return f"{a['success_rate']:.0%} <small>[{a['ci95'][0]:.0%}, {a['ci95'][1]:.0%}]</small>"


def _run_table(info: dict) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{a['successes']}/{a['episodes']}</td><td>{_pct(a)}</td>"
        f"<td>{a['subgoal_success']:.0%}</td><td>{a['mean_steps']:.0f}</td><td>{a['mean_wall_s']:.1f}</td></tr>"
        for k, a in info["summary"].items())
    return ("<table class='tasks'><tr><th>task / split</th><th>successes</th><th>success [95 % CI]</th>"
            f"<th>subgoals reached</th><th>steps</th><th>s / episode</th></tr>{rows}</table>")


def _comparison(runs) -> str:
    keys = sorted({k for _, _, info in runs for k in info["summary"]}, key=lambda k: (k == "all", k))
    head = "".join(f"<th>{html.escape(n)}</th>" for n, _, _ in runs)
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td>" + "".join(f"<td>{_pct(info['summary'][k]) if k in info['summary'] else '–'}</td>"
                                               for _, _, info in runs) + "</tr>" for k in keys)
    return f"<table class='compare'><tr><th>task / split</th>{head}</tr>{rows}</table>"


def _videos(name: str, run_path: Path, info: dict, budget: list[int]) -> str:
    cells = []
    for ep in info["episodes"]:
        if "video" not in ep:
            continue
        path = run_path / ep["video"]
        caption = (f"{html.escape(ep['task'])} · {ep['split']} · seed {ep['seed']} · "
                   f"{'✔ success' if ep['success'] else '✘ ' + html.escape(str(ep.get('failure') or 'failed'))}"
                   f"<br><i>{html.escape(ep['instruction'])}</i>")
        if budget[0] > 0 and path.exists():
            data = base64.b64encode(path.read_bytes()).decode()
            budget[0] -= 1
            src = f"data:video/mp4;base64,{data}"
        else:
            src = html.escape(os.path.relpath(path, run_path.parent))
        cells.append(f"<figure><video controls muted loop preload='metadata' src='{src}'></video>"
                     f"<figcaption>{caption}</figcaption></figure>")
    if not cells:
        return ""
    return f"<h3>{html.escape(name)}: imagined (top) vs real (bottom)</h3><div class='videos'>{''.join(cells)}</div>"


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.videos{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;width:200px;font-size:12px}video{width:128px;
image-rendering:pixelated}.plots{display:flex;flex-wrap:wrap;gap:24px}small{color:#666}"""


def write_report(run_dir: str | Path, out: str | Path | None = None, max_videos: int = 200) -> Path:
    runs = load_runs(run_dir)
    out = Path(out) if out else Path(run_dir) / "report.html"
    parts = [f"<h1>dreamplan evaluation: {html.escape(str(run_dir))}</h1>"]
    parts.append("<h2>Success by task and split</h2>" + _comparison(runs))
    plots = [success_plot(runs, k) for k in varying_numeric_keys(runs)] if len(runs) > 1 else []
    parts.append("<h2>Plots</h2><div class='plots'>" + "".join(plots) + latency_plot(runs) + "</div>")
    for name, _, info in runs:
        seeds = info.get("seeds", [])
        parts.append(f"<h2>Run {html.escape(name)}</h2><p>{len(info['episodes'])} episodes, evaluation seeds "
                     f"{min(seeds) if seeds else '–'}–{max(seeds) if seeds else '–'}; config:</p>"
                     f"<details><summary>config</summary><pre>{html.escape(json.dumps(info.get('config', {}), indent=1))}</pre></details>"
                     + _run_table(info))
    budget = [max_videos]
    parts.append("<h2>Episodes</h2>" + "".join(_videos(n, p, info, budget) for n, p, info in runs))
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>dreamplan report</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    return atomic_write(out, page)
