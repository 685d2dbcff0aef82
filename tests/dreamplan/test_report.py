import json
import os
import re
import shutil
import subprocess

import pytest

from dreamplan.cli import main
from dreamplan.report import load_runs, varying_numeric_keys, write_report
from sim.errors import DreamplanError

PROBE = """<script>
window.addEventListener('load', async () => {
  const vids = [...document.querySelectorAll('video')];
  const meta = await Promise.all(vids.map(v => new Promise(r => {
    if (v.readyState >= 1) return r(v.duration);
    v.addEventListener('loadedmetadata', () => r(v.duration)); v.addEventListener('error', () => r(-1));
  })));
  const played = await Promise.all(vids.map(v => v.play().then(() => 'ok', e => String(e))));
  const rows = [...document.querySelectorAll('table.compare tr td:first-child')].map(td => td.textContent);
  document.body.setAttribute('data-probe', JSON.stringify({meta, played, rows}));
});
</script></body>"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    for h in (4, 8):
        assert main(["eval", "tasks=[push_to_center,push_next_to]", "episodes=1", "workers=1", "videomodel=oracle",
                     f"agent.execute_horizon={h}", f"out={root / f'h{h}'}"]) == 0
    return root


@pytest.mark.slow
@pytest.mark.integration
def test_report_lists_every_task_and_plots_the_sweep(sweep):
    runs = load_runs(sweep)
    assert [n for n, _, _ in runs] == ["h4", "h8"]
    assert varying_numeric_keys(runs) == ["agent.execute_horizon"]
    page = write_report(sweep).read_text()
    for task in ("push_to_center/train", "push_next_to/train"):
        assert task in page
    assert page.count("<video") == 4 and page.count("data:video/mp4;base64,") == 4
    assert "agent.execute_horizon" in page and page.count("<svg") >= 2


def test_report_of_nothing_is_a_clear_error(tmp_path):
    with pytest.raises(DreamplanError, match="no eval_info.json"):
        write_report(tmp_path)


@pytest.mark.slow
@pytest.mark.integration
def test_report_page_loads_and_plays_in_headless_chromium(sweep, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = tmp_path / "probe.html"
    page.write_text(write_report(sweep).read_text().replace("</body>", PROBE))
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--autoplay-policy=no-user-gesture-required",
         "--virtual-time-budget=15000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'data-probe="([^"]*)"', dom)
    assert m, "the page did not finish loading"
    probe = json.loads(m.group(1).replace("&quot;", '"'))
    assert len(probe["meta"]) == 4 and all(d > 0.3 for d in probe["meta"])  # every video decodes, ~1 s or more
    assert probe["played"] == ["ok"] * 4
    assert {"push_to_center/train", "push_next_to/train", "all"} <= set(probe["rows"])
