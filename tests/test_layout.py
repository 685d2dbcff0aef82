"""design.md's rooms and arrows, checked on every module's imports (ast): a box imports only what its row allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("sim", "training", "invdyn", "videomodel", "planner", "dreamplan", "configs")
# package -> the packages (or single modules) of ours it may import
ALLOWED = {
    "sim": {"sim"},
    "training": {"training"},
    "invdyn": {"invdyn", "training", "sim"},
    "videomodel": {"videomodel", "training", "sim"},
    "planner": {"planner", "training", "sim", "videomodel.text_encoder"},
    "dreamplan": set(OURS),
    "configs": set(),
}
# what reads the live simulator: only sim itself and the glue (dreamplan) may import it
SIMULATOR = ("sim.env", "sim.metaworld.env", "sim.oracles", "sim.metaworld.oracle")


def imported_modules(path: Path) -> set[str]:
    """Every module of ours that `path` imports, at module level or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            for a in node.names:  # `from sim import env` imports the module sim.env
                candidate = f"{node.module}.{a.name}"
                if (ROOT / (candidate.replace(".", "/") + ".py")).exists():
                    out.add(candidate)
    return {m for m in out if m.split(".")[0] in OURS}


def allowed(package: str, module: str) -> bool:
    if package not in ("sim", "dreamplan") and any(module == s or module.startswith(s + ".") for s in SIMULATOR):
        return False
    return any(module == a or module.startswith(a + ".") for a in ALLOWED[package])


MODULES = sorted(p for pkg in OURS for p in (ROOT / pkg).rglob("*.py"))


def test_every_package_is_checked():
    assert {p.relative_to(ROOT).parts[0] for p in MODULES} == set(OURS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_arrows(path: Path):
    package = path.relative_to(ROOT).parts[0]
    bad = sorted(m for m in imported_modules(path) if not allowed(package, m))
    assert not bad, f"{path.relative_to(ROOT)} ({package}/) may not import {', '.join(bad)} (design.md)"


def test_the_checker_catches_a_wrong_arrow(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from sim.env import TabletopEnv\n    import dreamplan.agent\n")
    assert {m for m in imported_modules(bad) if not allowed("invdyn", m)} == {"sim.env", "dreamplan.agent"}
    assert not allowed("training", "sim.errors") and allowed("planner", "videomodel.text_encoder")
    assert not allowed("planner", "videomodel.world_model")
