"""`nas-mnist bench shapes` (search.bench.shapes): a warm-start shape trained at a few sizes."""

from __future__ import annotations

import json

import pytest

from search.bench.shapes import train_shape
from search.cli import main
from space import count_params, decode, size_for
from space.warmstart import FAST_RECIPE, SHAPES


def test_a_shape_at_a_size_is_the_warm_start_of_that_size(tiny_data) -> None:
    row = train_shape("onepool", 900, budget=10_000, epochs=2, data=tiny_data,
                      overrides={"rotate": 0.0})
    p = {**SHAPES["onepool"], **FAST_RECIPE, "rotate": 0.0}
    p["size"] = size_for(p, 10_000, 900)
    assert row["params"] == count_params(decode(p, 10_000).net) <= 900
    assert row["rotate"] == 0.0 and len(row["val_acc"]) == 2
    assert all(0.0 <= a <= 100.0 for a in row["val_acc"])


def test_prints_one_json_row_per_size(mnist_root, capsys) -> None:
    assert main(["bench", "shapes", "--data-dir", str(mnist_root), "--sizes", "600,1200",
                 "--epochs", "1", "--train-subset", "300", "--val-size", "200",
                 "--set", "lr_sgd=0.05"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["target"] for r in rows] == [600, 1200] and rows[0]["params"] < rows[1]["params"]
    assert all(r["lr_sgd"] == 0.05 and r["shape"] == "onepool" for r in rows)


def test_an_unknown_shape_is_one_line(capsys) -> None:
    assert main(["bench", "shapes", "--shape", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown shape 'nope'; known: ref10224" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["--sizes", "9x"], ["--set", "rotate"], ["--sizes", "0"]])
def test_bad_arguments_are_usage_errors(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", "shapes", *argv])
    assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1
