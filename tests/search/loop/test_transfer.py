"""`search --warm-from`: a new study starts with the drawn members of earlier studies' fronts,
the same net where it fits, else its shape at the budget, each with its own recipe."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.cli import build_parser, main
from search.config import SearchConfig, default_storage
from search.errors import UserError
from search.loop.run import prepare_study, run_search
from search.loop.starts import transfers
from space import count_params, decode, suggest, warm_starts

SRC_BUDGET = 20_000


def _source(study_dir: Path, name: str, accs: list[float], *, seed: int = 0) -> list[int]:
    """A study made as `search` makes one: settings, drawn trials (accuracy given), a warm start
    and a reference on its front. Returns the numbers of the drawn trials, in order."""
    study = optuna.create_study(
        study_name=name, storage=default_storage(study_dir, name),
        directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=seed))
    study.set_user_attr("settings", {"budget": SRC_BUDGET})
    drawn = []
    for acc in accs:
        trial = study.ask()
        n = count_params(decode(suggest(trial), SRC_BUDGET).net)
        study.tell(trial, [acc, n])
        drawn.append(trial.number)
    (lab, p), *_ = warm_starts(SRC_BUDGET, SearchConfig.warm_plan)
    study.enqueue_trial(p, user_attrs={"warm_start": lab})
    t = study.ask()
    suggest(t)
    study.tell(t, [98.0, 1.0])  # the warm start is on the front: it must still not transfer
    study.enqueue_trial({}, user_attrs={"reference": "ref6016"})
    t = study.ask()
    study.tell(t, [98.5, 2.0])
    return drawn


def _cfg(study_dir: Path, *sources: str, **kw) -> SearchConfig:
    return SearchConfig(budget=8_000, study_name="new", study_dir=study_dir, device="cpu",
                        warm_from=sources, **kw)


def test_drawn_front_members_transfer_smallest_first(tmp_path: Path) -> None:
    drawn = _source(tmp_path, "src", [99.0 + i / 100 for i in range(12)])
    src = optuna.load_study(study_name="src", storage=default_storage(tmp_path, "src"))
    trials = {t.number: t for t in src.get_trials()}
    front = {t.number for t in src.best_trials} & set(drawn)
    assert front  # accuracies rise with the draw order: a few draws are on the front
    assert {t.number for t in src.best_trials} - set(drawn)  # and so are the start and reference

    found = transfers(_cfg(tmp_path, "src"))
    numbers = [int(lab.split("#")[1].split("@")[0]) for lab, _ in found]
    assert set(numbers) == front  # the warm start and the reference stay behind
    sizes = [count_params(decode(p, 8_000).net) for _, p in found]
    assert sizes == sorted(sizes) and max(sizes) <= 8_000
    for (lab, p), num, n in zip(found, numbers, sizes, strict=True):
        assert lab == f"src#{num}@{n / 1000:.1f}k"
        assert suggest(optuna.trial.FixedTrial(p)) == p
        was = decode(trials[num].params, SRC_BUDGET)
        assert decode(p, 8_000).train == was.train
        if trials[num].values[1] <= 8_000:
            assert decode(p, 8_000).net == was.net


def test_a_net_met_twice_is_queued_once(tmp_path: Path) -> None:
    _source(tmp_path, "a", [99.0 + i / 100 for i in range(12)])
    _source(tmp_path, "b", [99.0 + i / 100 for i in range(12)])  # the same draws again
    one = transfers(_cfg(tmp_path, "a"))
    both = transfers(_cfg(tmp_path, "a", "b"))
    assert [lab for lab, _ in both] == [lab for lab, _ in one]


def test_a_missing_source_stops_before_anything_is_written(tmp_path: Path, mnist_root: Path):
    _source(tmp_path, "src", [99.0])
    a = _cfg(tmp_path, "src", "nope", data_dir=str(mnist_root))
    with pytest.raises(UserError, match="no study named 'nope'") as e:
        prepare_study(a)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "new.db").exists()
    with pytest.raises(UserError, match="cannot start from itself"):
        transfers(_cfg(tmp_path, "new"))


def test_flag_repeats_and_survives_the_worker_round_trip() -> None:
    ns = build_parser().parse_args(["search", "--warm-from", "a", "--warm-from", "b"])
    a = SearchConfig.from_namespace(ns)
    assert a.warm_from == ("a", "b")
    assert SearchConfig.from_json(a.to_json()) == a
    assert SearchConfig.from_namespace(build_parser().parse_args(["search"])).warm_from == ()


@pytest.mark.slow
def test_a_new_study_trains_the_transferred_net_first_and_to_the_end(tmp_path: Path,
                                                                     tiny_data) -> None:
    _source(tmp_path, "src", [99.0 + i / 100 for i in range(12)])
    (lab, p), *_ = transfers(_cfg(tmp_path, "src", warm_start=False))
    a = _cfg(tmp_path, "src", warm_start=False, n_trials=1, epochs=1, val_size=500,
             train_subset=1000, quiet=True)
    study = run_search(a, data=tiny_data)
    first = min(study.get_trials(), key=lambda t: t.number)
    assert first.state == TrialState.COMPLETE and first.user_attrs["warm_start"] == lab
    assert first.params == p
    # resuming does not queue it again, nor read the earlier study (it may be gone)
    (tmp_path / "src.db").unlink()
    study = run_search(SearchConfig(**{**a.__dict__, "n_trials": 2}), data=tiny_data)
    assert [t.user_attrs.get("warm_start") for t in study.get_trials()].count(lab) == 1
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 2


@pytest.mark.slow
def test_jobs_workers_run_the_transferred_nets(tmp_path: Path, mnist_root: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    _source(tmp_path, "src", [99.0 + i / 100 for i in range(12)])
    want = [lab for lab, _ in transfers(_cfg(tmp_path, "src", warm_start=False))][:2]
    argv = ["search", "--budget", "8000", "--n-trials", "2", "--epochs", "1", "--train-subset",
            "300", "--val-size", "300", "--data-dir", str(mnist_root), "--study-dir",
            str(tmp_path), "--study", "new", "--quiet", "--device", "cpu", "--no-warm-start",
            "--warm-from", "src", "--jobs", "2"]
    assert main(argv) == 0, capsys.readouterr()
    study = optuna.load_study(study_name="new", storage=default_storage(tmp_path, "new"))
    done = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    assert [t.user_attrs["warm_start"] for t in done] == want
