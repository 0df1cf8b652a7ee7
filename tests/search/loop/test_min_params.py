"""`search --min-params N`: every drawn net's size target is at least N (by default the smallest
warm start's size); bad values are refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.cli import build_parser
from search.config import SearchConfig
from search.errors import UserError
from search.loop.run import prepare_study
from search.loop.starts import size_floor
from space import count_params, sample, size_for
from space.warmstart import MIN_SIZE


def _cfg(study_dir: Path, **kw) -> SearchConfig:
    return SearchConfig(budget=8_000, study_name="s", study_dir=study_dir, device="cpu",
                        warm_start=False, **kw)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # study.ask() by hand
@pytest.mark.parametrize(("flag", "floor"), [(3_000, 3_000), (None, MIN_SIZE)])
def test_the_study_draws_above_the_floor(tmp_path: Path, tiny_data, flag, floor) -> None:
    study = prepare_study(_cfg(tmp_path, min_params=flag), tiny_data)
    sizes = []
    for _ in range(12):
        trial = study.ask()
        sizes.append(count_params(sample(trial, 8_000, 1).net))
        assert trial.params["size"] >= size_for(trial.params, 8_000, floor)
        study.tell(trial, [90.0, sizes[-1]])
    assert min(sizes) >= 0.85 * floor, sizes


def test_the_default_floor_is_the_smallest_warm_start_where_the_budget_leaves_room() -> None:
    assert size_floor(SearchConfig(budget=10_000)) == MIN_SIZE == 900
    assert size_floor(SearchConfig(budget=2 * MIN_SIZE)) == MIN_SIZE
    assert size_floor(SearchConfig(budget=2 * MIN_SIZE - 1)) == 0  # small budgets: no floor
    assert size_floor(SearchConfig(budget=10_000, min_params=0)) == 0
    assert size_floor(SearchConfig(budget=1_000, min_params=400)) == 400


def test_flag_and_worker_round_trip() -> None:
    a = SearchConfig.from_namespace(build_parser().parse_args(["search", "--min-params", "900"]))
    assert a.min_params == 900 and SearchConfig().min_params is None
    assert SearchConfig.from_json(a.to_json()) == a
    assert "min_params" not in a.settings()  # a resumed run may change it


@pytest.mark.parametrize("n", [-1, 8_000, 9_000])
def test_a_floor_outside_the_budget_is_refused(tmp_path: Path, tiny_data, n: int) -> None:
    with pytest.raises(UserError, match=r"--min-params must be in \[0, budget 8000\)"):
        prepare_study(_cfg(tmp_path, min_params=n), tiny_data)
    assert not (tmp_path / "s.db").exists()
