"""`nas-mnist bench first-epoch` (search.bench.first_epoch): random draws trained one epoch."""

from __future__ import annotations

from search.bench.first_epoch import first_epoch_acc, summary_line
from search.cli import main


def test_first_epoch_of_a_draw(tiny_data) -> None:
    row = first_epoch_acc(3, 2000, 4, tiny_data)
    assert row["params"] <= 2000 and 0.0 <= row["acc1"] <= 100.0
    assert row == {**first_epoch_acc(3, 2000, 4, tiny_data), "seconds": row["seconds"]}


def test_prints_one_row_per_draw_and_the_median(mnist_root, capsys) -> None:
    assert main(["bench", "first-epoch", "--data-dir", str(mnist_root), "--budget", "1500",
                 "--draws", "2", "--train-subset", "500", "--val-size", "200",
                 "--epochs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1].startswith("median first-epoch val acc over 2 draws")


def test_summary_line() -> None:
    assert summary_line([90.0, 96.0, 97.0]) == (
        "median first-epoch val acc over 3 draws: 96.00 % (range 90.00-97.00; 2 at >= 95 %)")
