"""`search --recipe fast`: every trial trains with the warm starts' recipe, the sampler draws the
net only; a resumed study keeps what it was created with."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from search.cli import build_parser
from search.config import SearchConfig
from search.errors import UserError
from search.loop.neighbours import queue_neighbour
from search.loop.run import prepare_study
from space import RECIPE_KEYS, count_params, net_params, sample
from space.warmstart import FAST_RECIPE


def _cfg(study_dir: Path, **kw) -> SearchConfig:
    return SearchConfig(budget=8_000, study_name="s", study_dir=study_dir, device="cpu", **kw)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # study.ask() by hand
def test_every_draw_trains_with_the_fast_recipe(tmp_path: Path, tiny_data) -> None:
    study = prepare_study(_cfg(tmp_path, recipe="fast", warm_start=False), tiny_data)
    nets, trains = [], []
    for _ in range(12):
        trial = study.ask()
        cand = sample(trial, 8_000)
        study.tell(trial, [99.0, count_params(cand.net)])
        assert {k: v for k, v in trial.params.items() if k in RECIPE_KEYS} == FAST_RECIPE
        nets.append(cand.net)
        trains.append(cand.train)
    assert len(set(trains)) == 1  # one recipe ...
    assert len(set(nets)) == len(nets)  # ... and a net of its own per draw
    # a worker or a later run opens it with the recipe fixed again; another --recipe is refused
    trial = prepare_study(_cfg(tmp_path, recipe="fast", warm_start=False), tiny_data).ask()
    assert sample(trial, 8_000).train == trains[0]
    with pytest.raises(UserError, match="recipe fast"):
        prepare_study(_cfg(tmp_path, warm_start=False), tiny_data)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")
def test_a_neighbour_moves_the_net_only(tmp_path: Path, tiny_data) -> None:
    a = _cfg(tmp_path, recipe="fast", neighbours=1.0)
    study = prepare_study(a, tiny_data)  # the warm starts, queued: train them as done
    for _ in range(len(study.get_trials())):
        trial = study.ask()
        study.tell(trial, [90.0 + random.random(), count_params(sample(trial, 8_000).net)])
    moved = 0
    for _ in range(6):
        parent = queue_neighbour(study, a)
        assert parent is not None
        trial = study.ask()
        sample(trial, 8_000)
        study.tell(trial, [90.0, 1_000])
        was = study.trials[parent].params
        assert {k: v for k, v in trial.params.items() if k in RECIPE_KEYS} == FAST_RECIPE
        moved += net_params(trial.params) != net_params(was)
    assert moved == 6


def test_flag_and_worker_round_trip() -> None:
    a = SearchConfig.from_namespace(build_parser().parse_args(["search", "--recipe", "fast"]))
    assert a.recipe == "fast" and SearchConfig().recipe == "drawn"
    assert SearchConfig.from_json(a.to_json()) == a
    assert a.settings()["recipe"] == "fast"


def test_unknown_recipe_is_refused(tmp_path: Path, tiny_data) -> None:
    with pytest.raises(UserError, match="--recipe must be one of drawn, fast"):
        prepare_study(_cfg(tmp_path, recipe="slow"), tiny_data)
    assert not (tmp_path / "s.db").exists()


def test_a_study_made_before_the_setting_reads_as_the_default(tmp_path: Path, tiny_data) -> None:
    study = prepare_study(_cfg(tmp_path, warm_start=False), tiny_data)
    old = {k: v for k, v in study.user_attrs["settings"].items() if k != "recipe"}
    study.set_user_attr("settings", old)  # as stored before --recipe existed
    prepare_study(_cfg(tmp_path, warm_start=False), tiny_data)  # the default: resumes
    with pytest.raises(UserError, match="recipe drawn \\(not fast\\)"):
        prepare_study(_cfg(tmp_path, recipe="fast", warm_start=False), tiny_data)
