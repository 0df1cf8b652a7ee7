"""The front picture: a valid PNG of sensible size, for real and synthetic studies."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import optuna
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from optuna.trial import TrialState, create_trial

from search.cli import main
from search.results.plot import _stagger, plot_front

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 600 <= width <= 2400 and 400 <= height <= 1600
    assert 10_000 < len(data) < 2_000_000
    pixels = imread(path)  # decodes: a complete file, not just a header
    assert pixels.shape[:2] == (height, width)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20  # not blank
    assert not list(path.parent.glob(".*.tmp"))


def _synthetic() -> optuna.Study:
    """Completed, pruned, a reference and a broken trial, like a real search leaves them."""
    study = optuna.create_study(directions=["maximize", "minimize"], study_name="synth")
    rng = np.random.default_rng(0)
    for i in range(40):
        n = int(10 ** rng.uniform(2.5, 4))
        acc = 99.5 - 3000 / n * rng.uniform(0.5, 2)
        if i % 4 == 3:
            study.add_trial(create_trial(state=TrialState.PRUNED,
                                         user_attrs={"params": n, "val_acc": [acc - 2]}))
        else:
            attrs = {"reference": "ref6016"} if i == 0 else {}
            study.add_trial(create_trial(state=TrialState.COMPLETE, user_attrs=attrs,
                                         values=[11.0 if i == 1 else acc, n]))
    return study


def test_plot_of_a_finished_study(finished_study, tmp_path):
    study_dir, name = finished_study
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / f'{name}.db'}")
    out = plot_front(study, tmp_path / "sub" / "pareto.png", budget=7000)
    _check_png(out)


def test_plot_of_pruned_and_reference_trials(tmp_path):
    _check_png(plot_front(_synthetic(), tmp_path / "a.png", budget=10_000))
    _check_png(plot_front(_synthetic(), tmp_path / "b.png"))  # no budget line


def test_plot_without_completed_trials(tmp_path):
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.add_trial(create_trial(state=TrialState.PRUNED,
                                 user_attrs={"params": 500, "val_acc": [90.0]}))
    _check_png(plot_front(study, tmp_path / "empty.png", budget=1000))


def test_failed_write_keeps_the_old_picture(tmp_path, monkeypatch):
    out = plot_front(_synthetic(), tmp_path / "p.png")
    before = out.read_bytes()

    def broken(self, fname, **kw):
        Path(fname).write_bytes(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError):
        plot_front(_synthetic(), out)
    assert out.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


def test_pareto_command_writes_the_picture(study_copy, capsys):
    study_dir, name = study_copy
    png = study_dir / name / "pareto.png"
    png.unlink(missing_ok=True)
    assert main(["pareto", "--study", name, "--study-dir", str(study_dir)]) == 0
    _check_png(png)


def test_labels_of_near_points_are_staggered():
    # run 3's front: 19,140 and 19,623 params sit 2.5 % apart, their labels overlapped
    assert _stagger([892, 1930, 4157, 9053, 19140, 19623]) == [0, 0, 0, 0, 0, 1]
    assert _stagger([1000, 1100, 1200, 5000]) == [0, 1, 2, 0]
    assert _stagger([]) == []
