"""`nas-mnist bench speed`'s panel (search.bench.panel): the committed nets, table and goals."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from search.bench.panel import GOALS, NARROW, goal_lines, load_panel, summarize
from search.bench.plans import PANEL_PLANS
from search.cli import main
from search.errors import UserError
from space import count_macs, count_params, spatial_sizes


def test_the_panel_covers_the_space() -> None:
    nets = load_panel()
    assert len(nets) == 16
    for name, net in nets.items():
        if "@" in name:  # the label carries the size: shape@N.Nk
            assert name.endswith(f"@{count_params(net) / 1000:.1f}k"), name
        assert count_macs(net) > 0
    kinds = {n.split("@")[0].rstrip("0123456789k") for n in nets}
    assert {"ref", "onepool", "narrow", "wide", "draw"} <= kinds
    narrow = nets[NARROW]  # the goal's net: narrow, three padded 3x3 convs at full resolution
    assert max(c.out for c in narrow.convs) <= 8 and spatial_sizes(narrow)[:2] == [28, 28]
    assert all(n in nets for p in PANEL_PLANS.values() if p.nets for n in p.nets)
    with pytest.raises(UserError, match="not in the panel: nope"):
        load_panel(["nope"])


def _rows(speed: str, rate: float, nets=("a", NARROW), batches=(32, 128)) -> pd.DataFrame:
    return pd.DataFrame([
        {"speed": speed, "net": n, "params": 1, "MACs/img": 1000, "batch": b,
         "train img/s": rate * (1 + r / 10), "val img/s": 1.0, "first epoch s": 0.0,
         "epoch s": 1.0, "GFLOP/s": 1.0, "% of peak": 30.0 if n == "a" else 10.0,
         "peak GFLOP/s": 80.0, "round": r}
        for n in nets for b in batches for r in (0, 1)])


def test_summary_and_goals_on_synthetic_rows() -> None:
    s = summarize(pd.concat([_rows("plain", 100.0), _rows("default", 350.0)]), "plain")
    assert len(s) == 8 and set(s["speed"]) == {"plain", "default"}
    assert s["lo"].lt(s["hi"]).all()  # two rounds: a spread
    assert s.loc[s["speed"] == "default", "x_base"].round(6).eq(3.5).all()
    lines = goal_lines(s, "plain")
    assert sum(f"{NARROW} at batch" in ln and ln.endswith(": met") for ln in lines) == 2
    assert any("median 3.50x" in ln and "slowest 3.50x" in ln for ln in lines)
    assert any(f"2 of 4 cells at >= {GOALS['peak_pct']:g} %" in ln for ln in lines)
    slow = summarize(pd.concat([_rows("plain", 100.0), _rows("default", 120.0)]), "plain")
    assert sum("NOT met" in ln for ln in goal_lines(slow, "plain")) == 3


@pytest.mark.parametrize("argv, words", [
    (["--speeds", "fast"], "--speeds: unknown fast"),
    (["--nets", "nope"], "not in the panel: nope"),
])
def test_bad_panel_input_is_one_line(argv: list[str], words: str, mnist_root: Path,
                                     capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "speed", "--device", "cpu", "--data-dir", str(mnist_root),
                 *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_an_out_folder_that_cannot_be_made_is_one_line_before_measuring(
        mnist_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "file").write_text("")
    assert main(["bench", "speed", "--device", "cpu", "--data-dir", str(mnist_root),
                 "--out", str(tmp_path / "file" / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nas-mnist: error: cannot write") and err.count("\n") == 1


def test_bad_batches_are_one_line(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", "speed", "--batches", "0"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert "--batches: expected positive whole numbers" in err


def _table(out: str) -> list[list[str]]:
    return [ln.split() for ln in out.splitlines() if re.match(r"\s*(plain|default)\s", ln)]


@pytest.mark.slow
def test_quick_panel_in_process(mnist_root: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "speed", "--quick", "--device", "cpu", "--data-dir", str(mnist_root),
                 "--out", str(tmp_path)]) == 0
    rows = _table(capsys.readouterr().out)
    plan = PANEL_PLANS["quick"]
    assert len(rows) == len(plan.nets) * len(plan.batches)
    for speed, net, params, kmac, batch, img_s, _spread, gflops, *_ in rows:
        assert speed == "default" and int(params) == count_params(load_panel([net])[net])
        assert int(batch) in plan.batches and int(img_s) > 0
        # training FLOPs: 6 per forward MAC per image; the table prints GFLOP/s to 0.1, which on a
        # slow box (under 1 GFLOP/s) is more than the 2 % the rounded kMAC and img/s allow
        assert float(gflops) == pytest.approx(6 * int(kmac) * 1e3 * int(img_s) / 1e9, rel=0.02,
                                              abs=0.051)
    assert len(pd.read_csv(tmp_path / "panel.csv")) == len(rows)
    assert (tmp_path / "panel.txt").read_text().startswith("nas-mnist bench speed on cpu")


@pytest.mark.slow
def test_speeds_compared_in_turns(mnist_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "speed", "--quick", "--device", "cpu", "--data-dir", str(mnist_root),
                 "--speeds", "plain,default", "--nets", NARROW, "--batches", "32"]) == 0
    out = capsys.readouterr().out
    rows = _table(out)
    assert [r[0] for r in rows] == ["plain", "default"] and rows[0][-1] == "1.00"
    assert f"default: {NARROW} at batch 32:" in out and "panel median" in out


@pytest.mark.slow
def test_profile_of_one_cell(mnist_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "speed", "--quick", "--device", "cpu", "--data-dir", str(mnist_root),
                 "--profile", NARROW, "--batch", "32"]) == 0
    out = capsys.readouterr().out
    assert "Self CPU" in out and "convolution" in out
