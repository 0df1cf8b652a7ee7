"""`nas-mnist dashboard` in a real headless Chromium: what a user sees after search + evaluation.

Drives the system's ``chromium`` (Debian package; ``.ci/run`` installs it) with Playwright's Python
package (the ``browser`` extra), or Playwright's own downloaded Chromium where there is no system
one. Asserts on the rendered DOM (plotly's graph divs and their data, the rendered markdown), not
on HTTP status, and saves a screenshot of every page under the test's temp folder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.error import URLError

import optuna
import pytest
from optuna.trial import TrialState

from search.cli import main
from search.results.figures import CURVES_TITLE, FRONT_TITLE
from search.results.pareto import front_trials
from search.results.publish import CURVES_ID, FRONT_ID, TRIAL_HEADING

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a server, a headless browser

WAIT_MS = 90_000  # a page on a busy 2-core machine: the bundle is 3 MB of JS, plotly draws slowly


def _browser_exe() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="no playwright: pip install -e '.[browser]'")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=_browser_exe())
        except sync_api.Error as e:
            pytest.skip(f"no browser: apt-get install chromium ({str(e).splitlines()[0]})")
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(study_copy, mnist_root):
    """The small finished study after `pareto --evaluate`, served: (base URL, study, study id)."""
    study_dir, name = study_copy
    assert main(["pareto", "--study", name, "--study-dir", str(study_dir), "--evaluate",
                 "--reseed", "2", "--epochs", "1", "--train-subset", "500", "--device", "cpu",
                 "--data-dir", str(mnist_root)]) == 0
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / f'{name}.db'}")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "search.cli", "dashboard", "--study-dir",
                             str(study_dir), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/dashboard"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"dashboard exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=10).close()
            break
        except (URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                pytest.fail("dashboard did not answer within 60 s")
            time.sleep(0.3)
    try:
        yield base, study, study._study_id
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _plot(page, graph_id: str) -> dict:
    """Plotly's own record of a figure the dashboard drew (its graph div carries .data/.layout)."""
    sel = f'[id="user-defined-plot:{graph_id}"] .main-svg'
    page.wait_for_selector(sel, timeout=WAIT_MS)
    return page.evaluate("""id => { const e = document.getElementById(id);
        return {data: e.data, title: e.layout.title.text,
                lines: e.querySelectorAll('g.trace.scatter').length}; }""",
                         f"user-defined-plot:{graph_id}")


def _js_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))  # as JS prints numbers


def test_study_trial_and_table_pages(browser, served, tmp_path: Path):
    base, study, sid = served
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    front = front_trials(study)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # study page: both custom figures, drawn by plotly in the page
    page.goto(f"{base}/studies/{sid}")
    curves, fig = _plot(page, CURVES_ID), _plot(page, FRONT_ID)
    page.screenshot(path=tmp_path / "study.png", full_page=True)
    assert curves["title"].startswith(CURVES_TITLE)
    drawn = [tr for tr in curves["data"] if tr.get("mode") == "lines+markers"]
    assert len(drawn) == len(finished) and curves["lines"] >= len(finished)
    assert fig["title"] == FRONT_TITLE
    bars = [tr for tr in fig["data"] if "error_y" in tr]
    assert len(bars) == 1 and len(bars[0]["x"]) == len(front)  # test mean ± sd per member
    refs = next(tr for tr in fig["data"] if tr["name"].startswith("references (reported"))
    assert "ref10224" in refs["text"]
    assert page.locator(f'[id="user-defined-plot:{FRONT_ID}"]').get_by_text("ref6016").count()

    # study note: the report, rendered (a real table), with the commands
    page.goto(f"{base}/studies/{sid}/note")
    page.get_by_text(f"Study {study.study_name}: Pareto front").wait_for(timeout=WAIT_MS)
    page.screenshot(path=tmp_path / "note.png", full_page=True)
    table = page.locator("table", has_text="reported, best epoch picked on test")
    assert table.count() == 1 and table.locator("tr").count() >= len(front) + 2
    assert page.get_by_text(f"nas-mnist export --study {study.study_name}").count()

    # a front member's page: its note and its learning curve (intermediate values)
    t = front[0]
    page.goto(f"{base}/studies/{sid}/trials?numbers={t.number}")
    page.get_by_text(f"{TRIAL_HEADING.lstrip('# ')} {t.number}").wait_for(timeout=WAIT_MS)
    page.screenshot(path=tmp_path / "trial.png")
    body = page.inner_text("body")
    assert "Pareto front: yes" in body and "test accuracy, retrained" in body
    assert f"--trial {t.number}" in body
    for step, v in enumerate(t.user_attrs["val_acc"], start=1):
        assert f"{step} {_js_number(v)}" in body

    # /trialTable: optuna-dashboard 0.21 renders nothing there; ours redirects to the table
    page.goto(f"{base}/studies/{sid}/trialTable")
    page.wait_for_url("**/smartSelection", timeout=WAIT_MS)
    page.get_by_text("Parallel Coordinate").first.wait_for(timeout=WAIT_MS)
    page.screenshot(path=tmp_path / "trial_table.png", full_page=True)
    assert errors == []
