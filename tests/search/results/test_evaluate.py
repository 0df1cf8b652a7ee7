"""search.results.evaluate and `nas-mnist pareto --evaluate` on the tiny finished study."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch

import search.results.evaluate
from search.cli import main
from search.results.evaluate import RESEED_BASE, full_train, retrain, stored_model
from search.results.pareto import front_trials
from search.store.study import StudyPaths
from search.training import data
from search.training.data import Split
from search.training.train import evaluate
from space import Candidate, Conv, Head, NetConfig, TrainConfig
from space.params import ConfigError

SMALL = Candidate(  # learns something in one epoch on a few hundred images
    NetConfig(convs=(Conv(out=6, pool=True), Conv(out=12)), head=Head(kind="gap_linear")),
    TrainConfig(epochs=1, batch_size=64, optimizer="adamw", lr=0.01, weight_decay=1e-4,
                schedule="none", rotate=5.0),
)


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # set_cpu_threads() in the CLI leaves it alone
    prev = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny nets: threads only add hand-off cost on a busy machine
    yield
    torch.set_num_threads(prev)


@pytest.fixture
def short_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluation scores the first 1,000 test images only: scoring all 10k with the CPU nets
    of the tiny study took most of a minute on the shared 2-core machine. The real load_test still
    runs (and counts) underneath."""
    real = search.results.evaluate.load_test

    def first_1000(*args, **kwargs) -> Split:
        s = real(*args, **kwargs)
        return Split(s.x[:1000], s.y[:1000])

    monkeypatch.setattr(search.results.evaluate, "load_test", first_1000)


def _load(study_dir: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / f'{name}.db'}")


def test_full_train_is_all_60k(mnist_root: Path) -> None:
    d = full_train(mnist_root, download=False)
    assert len(d.train) == 60_000 and len(d.val) == 0
    assert d.train.x.shape == (60_000, 28, 28) and d.train.x.dtype == torch.uint8
    counts = torch.bincount(d.train.y, minlength=10)
    assert counts.sum() == 60_000 and counts.min() > 5000  # every class, the whole file
    sub = full_train(mnist_root, subset=300, download=False)
    assert len(sub.train) == 300 and torch.equal(sub.train.y, d.train.y[:300])


@pytest.mark.slow
def test_retrain_reproduces_with_the_same_seed(tiny_data) -> None:
    test = tiny_data.val  # stands in for the test split: a retrain only scores what it is given
    a = retrain(SMALL, tiny_data, seed=5, test=test)
    b = retrain(SMALL, tiny_data, seed=5, test=test)
    c = retrain(SMALL, tiny_data, seed=6, test=test)
    assert a.test_acc == b.test_acc and a.val_acc == b.val_acc == a.test_acc  # same split
    assert a.test_acc > 20  # it learned: equality above is not two constant predictors
    same = zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    assert all(torch.equal(p, q) for p, q in same)  # initial weights are seeded too
    diff = zip(a.model.state_dict().values(), c.model.state_dict().values(), strict=True)
    assert not all(torch.equal(p, q) for p, q in diff)
    assert retrain(SMALL, tiny_data, seed=5, epochs=2).history.epochs[-1].epoch == 2


def test_stored_model_is_the_trial_s_final_weights(finished_study, tiny_data) -> None:
    study_dir, name = finished_study
    study = _load(study_dir, name)
    paths = StudyPaths(study_dir / name)
    for t in front_trials(study):
        model = stored_model(t, paths)
        assert model is not None
        # the fixture's search validated on exactly tiny_data.val: same weights, same accuracy
        acc, loss = evaluate(model, tiny_data.val)
        assert round(100 * acc, 4) == pytest.approx(t.values[0])
        assert loss == pytest.approx(t.user_attrs["val_loss"][-1], rel=1e-5)  # a continuous check
        assert sum(p.numel() for p in model.parameters()) == t.values[1]


def _evaluate(study_dir: Path, name: str, mnist_root: Path, *extra: str, reseed: int = 2) -> int:
    return main(["pareto", "--study", name, "--study-dir", str(study_dir), "--evaluate",
                 "--reseed", str(reseed), "--epochs", "1", "--train-subset", "300",
                 "--data-dir", str(mnist_root), "--device", "cpu", *extra])


@pytest.mark.slow
def test_pareto_evaluate(
    study_copy, mnist_root: Path, capsys: pytest.CaptureFixture, short_test: None
) -> None:
    study_dir, name = study_copy
    before = _load(study_dir, name)
    front = [t.number for t in front_trials(before)]
    values = {t.number: t.values for t in before.get_trials()}
    loads = data.TEST_LOADS

    assert _evaluate(study_dir, name, mnist_root) == 0
    assert data.TEST_LOADS == loads + 1  # the test set is read once per evaluation
    out = capsys.readouterr().out
    study = _load(study_dir, name)
    assert [t.number for t in front_trials(study)] == front  # the front is what it was
    assert {t.number: t.values for t in study.get_trials()} == values
    first = {}
    for t in front_trials(study):
        a = t.user_attrs
        assert 0 <= a["test_acc"] <= 100 and f"trial {t.number} (" in out
        assert a["test_seeds"] == [RESEED_BASE, RESEED_BASE + 1] and len(a["test_runs"]) == 2
        assert a["test_mean"] == pytest.approx(sum(a["test_runs"]) / 2, abs=1e-4)
        assert a["test_sd"] >= 0 and a["test_epochs"] == 1 and a["test_train_images"] == 300
        first[t.number] = {k: v for k, v in a.items() if k.startswith("test_")}
    others = [t for t in study.get_trials() if t.number not in front]
    assert all("test_acc" not in t.user_attrs for t in others)  # only the front is scored

    paths = StudyPaths(study_dir / name)
    df = pd.read_csv(paths.pareto_csv)
    assert list(df["trial"]) == front
    assert {"test_acc", "test_mean", "test_sd", "test_seeds"} <= set(df.columns)
    md = paths.report_md.read_text()
    assert "not evaluated yet" not in md and "seeds 1000, 1001 on 300 training images" in md

    # same seeds, same data, CPU, one thread per run: the second evaluation reproduces every
    # number, whether its retrainings run here or in two worker processes
    for jobs in ("1", "2"):
        assert _evaluate(study_dir, name, mnist_root, "--jobs", jobs) == 0
        again = _load(study_dir, name)
        assert [t.number for t in front_trials(again)] == front
        for t in front_trials(again):
            got = {k: v for k, v in t.user_attrs.items() if k.startswith("test_")}
            assert got == first[t.number], f"--jobs {jobs}"
    assert data.TEST_LOADS == loads + 3  # the workers were given the test set, not reading it


def test_a_failing_retraining_stops_the_pool(tiny_data) -> None:
    from search.results.retrains import Task, run_retrains

    good = Task(0, SMALL.to_dict(), 1)
    bad = Task(1, {**SMALL.to_dict(), "net": {"convs": "not a list"}}, 1)
    with pytest.raises(ConfigError, match="not a nas-mnist config"):  # the worker's own error
        list(run_retrains([good, bad], jobs=2, epochs=1, data=tiny_data, test=tiny_data.val))


def test_pareto_evaluate_options_need_evaluate(finished_study, capsys) -> None:
    study_dir, name = finished_study
    base = ["pareto", "--study", name, "--study-dir", str(study_dir)]
    for extra in (["--reseed", "2"], ["--epochs", "1"], ["--train-subset", "9"],
                  ["--device", "cpu"]):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert "only with --evaluate" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as e:
        main(base + ["--evaluate", "--reseed", "-1"])
    assert e.value.code == 2
    assert main(["pareto", "--study", "nope", "--study-dir", str(study_dir), "--evaluate"]) == 2
    assert "no study named 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_pareto_evaluate_chosen_trials(
    study_copy, mnist_root: Path, capsys: pytest.CaptureFixture, short_test: None
) -> None:
    study_dir, name = study_copy
    before = _load(study_dir, name)
    front = [t.number for t in front_trials(before)]
    ref = next(t.number for t in before.get_trials() if t.user_attrs.get("reference"))
    chosen = sorted({front[-1], ref})
    assert _evaluate(study_dir, name, mnist_root, "--trials", ",".join(map(str, chosen)),
                     reseed=1) == 0
    study = _load(study_dir, name)
    assert [t.number for t in front_trials(study)] == front  # the front is what it was
    scored = [t.number for t in study.get_trials() if "test_acc" in t.user_attrs]
    assert scored == chosen  # those, and only those
    assert all(len(study.trials[n].user_attrs["test_runs"]) == 1 for n in chosen)
    md = StudyPaths(study_dir / name).report_md.read_text()
    a = study.trials[ref].user_attrs
    assert f"trial {ref}: val acc" in md and f"test acc {a['test_acc']:.2f}%" in md
    if ref not in front:  # a reference off the front still gets its row in the table
        assert f"| trial {ref} ({a['reference']}, reference, off the front) |" in md
    if len(front) > 1 or ref not in front:
        assert "front members evaluated" in md


@pytest.mark.parametrize(("trials", "msg"), [
    ("999", "has no trial 999"),
    ("x,1", "expected trial numbers like 3,7,12"),
])
def test_pareto_evaluate_chosen_trials_must_exist(finished_study, capsys, trials, msg) -> None:
    study_dir, name = finished_study
    code = None
    try:
        code = main(["pareto", "--study", name, "--study-dir", str(study_dir), "--evaluate",
                     "--reseed", "0", "--device", "cpu", "--trials", trials])
    except SystemExit as e:  # argparse's own usage error
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and "Traceback" not in err
    assert main(["pareto", "--study", name, "--study-dir", str(study_dir), "--trials", "1"]) == 2
    assert "--trials is used only with --evaluate" in capsys.readouterr().err


def test_chosen_trials_are_completed_ones_in_order() -> None:
    from search.errors import UserError
    from search.results.evaluate import chosen_trials

    study = optuna.create_study(directions=["maximize", "minimize"])
    for state in ("complete", "pruned", "complete"):
        t = study.ask()
        if state == "complete":
            study.tell(t, [99.0, 1000 + t.number])
        else:
            study.tell(t, state=optuna.trial.TrialState.PRUNED)
    assert [t.number for t in chosen_trials(study, [2, 0, 2])] == [2, 0]
    with pytest.raises(UserError, match=r"trial 1 of study .* is pruned"):
        chosen_trials(study, [0, 1])


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_retrains_in_workers_on_the_gpu(tiny_data) -> None:
    from search.results.retrains import Task, run_retrains
    from search.training.data import MnistData

    dev = torch.device("cuda")
    on_gpu = MnistData(Split(tiny_data.train.x.to(dev), tiny_data.train.y.to(dev)),
                       Split(tiny_data.val.x.to(dev), tiny_data.val.y.to(dev)), dev)
    tasks = [Task(k, SMALL.to_dict(), 1000 + k) for k in range(3)]
    done = list(run_retrains(tasks, jobs=3, epochs=1, data=on_gpu, test=on_gpu.val))
    assert sorted(d.task.key for d in done) == [0, 1, 2]  # every task, once
    assert all(d.test_acc > 20 and not d.stopped for d in done)  # each learned, on its own GPU copy
