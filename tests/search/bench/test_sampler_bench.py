"""The 2-D hypervolume behind the sampler comparison."""

import pandas as pd
import pytest

from search.bench.sampler_bench import hypervolume, main


def test_hypervolume_is_the_dominated_area():
    # front (1000, 95) and (5000, 97); (6000, 96) is dominated and adds nothing
    assert hypervolume([(95.0, 1000), (97.0, 5000), (96.0, 6000)], 90.0, 10000) == 55000
    assert hypervolume([(95.0, 1000), (97.0, 5000)], 90.0, 10000) == 55000


def test_points_outside_the_reference_box_count_nothing():
    assert hypervolume([(89.0, 100), (99.0, 20000)], 90.0, 10000) == 0
    assert hypervolume([], 90.0, 10000) == 0


def test_more_accuracy_or_fewer_params_never_lowers_it():
    base = hypervolume([(95.0, 1000), (97.0, 5000)], 90.0, 10000)
    assert hypervolume([(95.5, 1000), (97.0, 5000)], 90.0, 10000) > base
    assert hypervolume([(95.0, 900), (97.0, 5000)], 90.0, 10000) > base


def test_log_scale_weighs_each_decade_alike():
    # 95 % from 100 to 1,000 params (one decade) then 97 % to 10,000 (one more): 5 + 7 pp*decades
    assert hypervolume([(95.0, 100), (97.0, 1000)], 90.0, 10000, log=True) == pytest.approx(12.0)
    # the same gain buys as much area at 100 params as at 1,000
    lo = hypervolume([(96.0, 100), (97.0, 1000)], 90.0, 10000, log=True)
    hi = hypervolume([(95.0, 100), (98.0, 1000)], 90.0, 10000, log=True)
    assert lo == pytest.approx(13.0) and hi == pytest.approx(13.0)


def test_unknown_sampler_is_refused_before_any_run(mnist_root, capsys):
    with pytest.raises(ValueError, match="unknown sampler 'cmaes'"):
        main(["--data-dir", str(mnist_root), "--samplers", "tpe,cmaes"])
    assert capsys.readouterr().out == ""


def test_small_comparison_runs_end_to_end(mnist_root, tmp_path, capsys):
    out = tmp_path / "runs.csv"
    main(["--data-dir", str(mnist_root), "--samplers", "tpe,random", "--seeds", "1",
          "--trials", "2", "--epochs", "1", "--train-subset", "256", "--val-size", "128",
          "--budget", "3000", "--ref-acc", "0", "--out", str(out)])
    df = pd.read_csv(out)
    assert sorted(df["sampler"]) == ["random", "tpe"]
    assert (df["front"] >= 1).all() and (df["hv_log"] > 0).all()
    assert (df["best"] <= 100).all()
    assert "hv_log_mean" in capsys.readouterr().out
