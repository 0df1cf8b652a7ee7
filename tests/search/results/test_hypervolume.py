"""search.results.hypervolume: the 2-D hypervolume that `bench front` scores fronts with."""

import pytest

from search.results.hypervolume import hypervolume


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
