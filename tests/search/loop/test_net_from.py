"""`search --net-from STUDY#N`: every trial trains trial N's net, the sampler draws the recipe."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.cli import build_parser, main
from search.config import SearchConfig, default_storage
from search.errors import UserError
from search.loop.run import prepare_study
from search.store.study import FIXED_NET, open_storage, open_study
from space import count_params, decode, net_params, sample, suggest
from space.sampler import fitting_topology

SRC_BUDGET = 20_000


def _source(study_dir: Path, n: int = 12) -> dict[int, optuna.trial.FrozenTrial]:
    """A study as `search` makes one: settings, `n` drawn trials and a reference (no params).
    Made in memory, then copied to its SQLite file in one go (a commit per draw is slow)."""
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.set_user_attr("settings", {"budget": SRC_BUDGET})
    for i in range(n):
        trial = study.ask()
        study.tell(trial, [99.0 + i / 100, count_params(decode(suggest(trial), SRC_BUDGET).net)])
    study.enqueue_trial({}, user_attrs={"reference": "ref6016"})
    study.tell(study.ask(), [98.5, 6016])
    optuna.copy_study(from_study_name=study.study_name, from_storage=study._storage,
                      to_storage=default_storage(study_dir, "src"), to_study_name="src")
    return {t.number: t for t in study.get_trials()}


def _cfg(study_dir: Path, net_from: str, **kw) -> SearchConfig:
    return SearchConfig(budget=8_000, study_name="new", study_dir=study_dir, device="cpu",
                        net_from=net_from, **kw)


def _numbers(trials: dict[int, optuna.trial.FrozenTrial]) -> tuple[int, int]:
    """A source trial whose net fits 8,000 params and one that does not."""
    small = next(n for n, t in trials.items() if t.params and t.values[1] <= 8_000)
    large = next(n for n, t in trials.items() if t.params and t.values[1] > 8_000)
    return small, large


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # study.ask() by hand
def test_every_trial_trains_the_net_and_draws_the_recipe(tmp_path: Path, tiny_data,
                                                         which: int) -> None:
    src = _source(tmp_path)
    num = _numbers(src)[which]
    was = decode(src[num].params, SRC_BUDGET)
    study = prepare_study(_cfg(tmp_path, f"src#{num}"), tiny_data)
    assert study.user_attrs[FIXED_NET]["source"].startswith(f"src#{num}@")
    assert len(study.get_trials()) == 1  # its own recipe is the only start: no warm starts
    nets, trains = [], []
    for _ in range(6):
        trial = study.ask()
        cand = sample(trial, 8_000)
        study.tell(trial, [99.0, count_params(cand.net)])
        nets.append(cand.net)
        trains.append(cand.train)
    assert trains[0] == was.train  # the queued start: the source trial's own recipe
    assert len(set(trains)) == len(trains)  # every draw after it has its own recipe
    assert all(net == nets[0] for net in nets)
    if which == 0:  # it fits: the very same net
        assert nets[0] == was.net
    else:  # its shape, re-widthed to the widest that fits
        assert count_params(nets[0]) <= 8_000 < count_params(was.net)
        assert fitting_topology(src[num].params, SRC_BUDGET) == fitting_topology(
            study.trials[1].params, 8_000)
    # every run and worker opens the study with the net fixed, the source no longer read
    (tmp_path / "src.db").unlink()
    again = prepare_study(_cfg(tmp_path, f"src#{num}"), tiny_data)
    trial = again.ask()
    assert sample(trial, 8_000).net == nets[0]
    assert net_params(trial.params) == study.user_attrs[FIXED_NET]["params"]


@pytest.mark.parametrize(("net_from", "why"), [
    ("src", "write STUDY#TRIAL"),
    ("src#x", "write STUDY#TRIAL"),
    ("nope#1", "no study named 'nope'"),
    ("src#99", "has no complete trial 99"),
    ("src#12", "is a reference net"),
    ("new#0", "cannot start from itself"),
])
def test_bad_sources_stop_before_anything_is_written(tmp_path: Path, tiny_data,
                                                     net_from: str, why: str) -> None:
    _source(tmp_path)
    with pytest.raises(UserError, match=why) as e:
        prepare_study(_cfg(tmp_path, net_from), tiny_data)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "new.db").exists()


@pytest.mark.parametrize("extra", [{"warm_from": ("src",)}, {"references": True},
                                   {"recipe": "fast"}])
def test_it_searches_one_net_only(tmp_path: Path, tiny_data, extra: dict) -> None:
    _source(tmp_path)
    with pytest.raises(UserError, match="without --warm-from, --references and --recipe fast"):
        prepare_study(_cfg(tmp_path, "src#0", **extra), tiny_data)
    assert not (tmp_path / "new.db").exists()


def test_flag_survives_the_worker_round_trip() -> None:
    a = SearchConfig.from_namespace(build_parser().parse_args(["search", "--net-from", "b#3"]))
    assert a.net_from == "b#3"
    assert SearchConfig.from_json(a.to_json()) == a


@pytest.mark.slow
def test_jobs_workers_train_the_fixed_net(tmp_path: Path, mnist_root: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    src = _source(tmp_path)
    num = _numbers(src)[1]
    argv = ["search", "--budget", "8000", "--n-trials", "3", "--epochs", "1", "--train-subset",
            "300", "--val-size", "300", "--data-dir", str(mnist_root), "--study-dir",
            str(tmp_path), "--study", "new", "--quiet", "--device", "cpu",
            "--net-from", f"src#{num}", "--jobs", "2"]
    assert main(argv) == 0, capsys.readouterr()
    study = optuna.load_study(study_name="new", storage=default_storage(tmp_path, "new"))
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 3
    assert len({decode(t.params, 8_000).net for t in done}) == 1
    assert len({decode(t.params, 8_000).train for t in done}) == 3


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed")  # study.ask() by hand
def test_a_worker_that_starts_beside_the_creator_fixes_the_net_too(tmp_path: Path) -> None:
    """Workers on several hosts started at once: one creates the study; another may open it
    before the creator has stored the net, and must train that net all the same."""
    src = _source(tmp_path)
    p = src[_numbers(src)[0]].params
    storage = open_storage(default_storage(tmp_path, "new"))
    open_study(storage, "new", seed=0, settings={})  # the creator, not yet past on_create
    study = open_study(storage, "new", seed=0, settings={}, fixed=net_params(p))
    for _ in range(3):
        trial = study.ask()
        assert sample(trial, 8_000).net == decode(p, 8_000).net
        study.tell(trial, [99.0, 1.0])
