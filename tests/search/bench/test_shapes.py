"""search.bench.shapes: a warm-start shape trained at a few sizes, with recipe overrides."""

from __future__ import annotations

import json

import pytest

from search.bench.shapes import _value, main, train_shape
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


def test_main_prints_one_json_row_per_size(mnist_root, capsys) -> None:
    assert main(["--data-dir", str(mnist_root), "--sizes", "600,1200", "--epochs", "1",
                 "--train-subset", "300", "--val-size", "200", "--set", "lr_sgd=0.05"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["target"] for r in rows] == [600, 1200] and rows[0]["params"] < rows[1]["params"]
    assert all(r["lr_sgd"] == 0.05 and r["shape"] == "onepool" for r in rows)


def test_bad_arguments_are_usage_errors(capsys) -> None:
    for argv in (["--shape", "nope"], ["--sizes", "9x"], ["--set", "rotate"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
    assert "unknown shape 'nope'" in capsys.readouterr().err


def test_values_are_typed() -> None:
    assert (_value("3"), _value("0.05"), _value("true"), _value("sgd")) == (3, 0.05, True, "sgd")
