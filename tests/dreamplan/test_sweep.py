"""dreamplan eval -m: Hydra's sweep syntax expanded to one resumable eval per configuration, each in its own folder,
and one comparison table over them."""

import json
from pathlib import Path

import pytest

from dreamplan.cli import main
from dreamplan.sweep import expand, folder_name

BASE = 1_000_000  # tabletop suites' seed_base: episode i runs seed BASE + seed + i
CHEAP = ["agent=expert", "tasks=[push_to_center]", "episodes=2", "videos=false", "attribute=false", "workers=1"]


def test_the_sweep_is_hydras_cartesian_product_named_by_the_swept_values():
    jobs, swept, out = expand(["videomodel=oracle,dit_pretrained", "seed=range(0,40,20)", "episodes=3", "out=runs/x"])
    assert swept == ["videomodel", "seed"] and out == "runs/x"
    assert jobs == [["videomodel=oracle", "seed=0", "episodes=3"], ["videomodel=oracle", "seed=20", "episodes=3"],
                    ["videomodel=dit_pretrained", "seed=0", "episodes=3"],
                    ["videomodel=dit_pretrained", "seed=20", "episodes=3"]]
    assert [folder_name(j, swept) for j in jobs[:2]] == ["videomodel=oracle,seed=0", "videomodel=oracle,seed=20"]
    jobs, swept, _ = expand(["videomodel=glob(dit_pre*)", "tasks=[a,b],[c]"])  # Hydra's glob over a group's options
    assert jobs == [["videomodel=dit_pretrained", "tasks=[a,b]"], ["videomodel=dit_pretrained", "tasks=[c]"]]


@pytest.mark.integration
def test_a_sweep_writes_one_eval_per_configuration_and_a_table_and_resumes(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["eval", *CHEAP, "--multirun", "seed=0,20", f"out={out}"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    folders = {p.name for p in out.iterdir() if p.is_dir()}
    assert folders == {"seed=0", "seed=20"}
    for seed in (0, 20):
        info = json.loads((out / f"seed={seed}" / "eval_info.json").read_text())
        assert [ep["seed"] for ep in info["episodes"]] == [BASE + seed, BASE + seed + 1]
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["swept"] == ["seed"] and [r["overrides"] for r in sweep["configurations"]] == [{"seed": "0"}, {"seed": "20"}]
    for row in sweep["configurations"]:
        one = json.loads((out / row["folder"] / "eval_info.json").read_text())["summary"]["all"]
        assert (row["successes"], row["episodes"], row["ci95"]) == (one["successes"], 2, one["ci95"])
    table = (out / "sweep.md").read_text()
    assert "| seed=0 | " in table and "| seed=20 | " in table and "| seed=20 | " in printed

    files = {p: p.stat().st_mtime_ns for p in out.glob("*/episodes/*.json")}
    assert main(["eval", "-m", *CHEAP, "seed=0,20", f"out={out}"]) == 0  # the same sweep again: every eval resumes, none runs
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/episodes/*.json")} == files and len(files) == 4


@pytest.mark.integration
def test_two_group_choices_each_get_a_folder(tmp_path):
    out = tmp_path / "sweep"
    assert main(["eval", "-m", *CHEAP, "episodes=1", "videomodel=oracle,dit_pretrained", f"out={out}"]) == 0
    rows = json.loads((out / "sweep.json").read_text())["configurations"]
    assert [r["folder"] for r in rows] == ["videomodel=oracle", "videomodel=dit_pretrained"]
    assert all(r["episodes"] == 1 for r in rows)


@pytest.mark.parametrize("args, message", [
    (["eval", "-m", *CHEAP, "seed=0,20", "out=a,b"], "out= names the sweep's folder and cannot be swept"),
    (["record", "-m", "seed=0,1"], "-m/--multirun sweeps `dreamplan eval` only"),
    (["eval", "-m", *CHEAP, "seed=0,20", "videomodel=nope,oracle"], "Could not find 'videomodel/nope'"),
])
def test_sweep_mistakes_are_one_line_and_run_nothing(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dreamplan: error:") and message in err
    assert not (Path(tmp_path) / "runs").exists()
