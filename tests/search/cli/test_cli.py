"""The command line itself: fast --help, --version, help texts, and search's printed lines."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from search.cli import build_parser, main
from search.config import SearchConfig
from search.loop.progress import EpochBar, trial_line
from search.loop.summary import chance_warning


def test_help_imports_neither_torch_nor_optuna():
    # `nas-mnist --help` took 4-5 s when both were imported up front; now a fraction of a second
    code = ("import sys\nimport search.config\nfrom search.cli import build_parser\n"
            "from search.cli.bench import SUBCOMMANDS\n"
            "for c in ([], ['search'], ['train'], ['pareto'], ['export'], ['bench'],\n"
            "          *[['bench', s] for s in SUBCOMMANDS]):\n"
            "    try:\n        build_parser().parse_args([*c, '--help'])\n"
            "    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('torch', 'optuna', 'space') if m in sys.modules), "
            "file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr.strip() == "[]", out.stderr


@pytest.mark.parametrize("command", [[], ["search"], ["train"], ["pareto"], ["export"], ["bench"]])
def test_every_help_prints_without_error(command, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([*command, "--help"])
    assert e.value.code == 0 and "usage: nas-mnist" in capsys.readouterr().out


def test_search_without_flags_runs_the_search_config_defaults():
    args = build_parser().parse_args(["search"])
    assert SearchConfig.from_namespace(args) == SearchConfig()
    flags = SearchConfig.from_namespace(build_parser().parse_args(
        ["search", "--no-warm-start", "--no-references", "--no-prune", "--budget", "3000"]))
    assert flags == SearchConfig(warm_start=False, references=False, prune=False, budget=3000)
    among = "draws" if SearchConfig.prune_among == "all" else "all"
    flags = SearchConfig.from_namespace(build_parser().parse_args(
        ["search", "--prune-among", among]))
    assert flags == SearchConfig(prune_among=among)


def test_search_config_travels_as_json():
    import json

    c = SearchConfig(budget=5000, study_dir=Path("x/y"), timeout=1.5, warm_plan=(("onepool", 9),))
    assert SearchConfig.from_json(json.loads(json.dumps(c.to_json()))) == c


def test_help_texts(capsys):
    for argv in (["search", "--help"], ["train", "--help"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
    out = " ".join(capsys.readouterr().out.split())
    search, train = out.split("usage: nas-mnist train")
    assert "trial k trains with seed K+k (default 0)" in search
    assert "--timeout S seconds of this run" in search
    assert "b<budget>" in search and "b<budget>" not in train  # train has no --budget
    assert "the study of --trial" in train


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert out.startswith("nas-mnist ") and "torch " in out and "optuna " in out
    assert "CUDA" in out and len(out.splitlines()) == 1


def _frozen(state: TrialState, values=None, **attrs) -> optuna.trial.FrozenTrial:
    """A trial outside any study (its number is -1)."""
    return optuna.trial.create_trial(state=state, values=values, user_attrs=attrs, params={"x": 1},
                                     distributions={"x": FloatDistribution(0, 2)})


def test_trial_lines_show_accuracy_for_pruned_trials():
    pruned = _frozen(TrialState.PRUNED, params=1319, val_acc=[80.5, 91.25], epochs=15,
                     arch="c4 c8", stop_reason="epoch 2: beaten")
    assert trial_line(pruned) == ("trial -1 pruned params=1,319 val_acc=91.25% at epoch 2/15 "
                                 "c4 c8 (epoch 2: beaten)")
    done = _frozen(TrialState.COMPLETE, values=[97.5, 2000], params=2000, val_acc=[97.5],
                   epochs=1, arch="c8")
    assert trial_line(done) == "trial -1 complete params=2,000 val_acc=97.50% c8"
    failed = _frozen(TrialState.FAIL, fail_reason="boom")
    assert trial_line(failed) == "trial -1 fail params=? no epoch finished (boom)"
    near = _frozen(TrialState.PRUNED, params=1319, val_acc=[80.5], epochs=15, arch="c4",
                   neighbour_of=7, stop_reason="epoch 1: beaten")
    assert trial_line(near) == ("trial -1 pruned params=1,319 val_acc=80.50% at epoch 1/15 c4 "
                                "[near trial 7] (epoch 1: beaten)")


def test_epoch_bar_names_the_trial_and_shows_percent(capsys):
    study = optuna.create_study(directions=["maximize", "minimize"])
    seen = []

    def objective(trial):  # what Objective does to its trial, in the same order
        trial.set_user_attr("params", 1234)
        trial.set_user_attr("arch", "c4 c8 gap")
        trial.set_user_attr("val_acc", [])
        seen.append(capsys.readouterr().err)  # the bar before the first epoch ended
        trial.set_user_attr("val_acc", [92.734])
        trial.set_user_attr("val_acc", [92.734, 97.5])
        return 97.5, 1234

    study.optimize(EpochBar(objective, epochs=2), n_trials=1)
    err = seen[0] + capsys.readouterr().err
    assert "trial 0: 1,234 params, c4 c8 gap" in err
    assert "val_acc" not in seen[0]  # no value before the first epoch ends
    assert "val_acc=92.73%" in err and "val_acc=97.50%" in err
    assert study.trials[0].user_attrs["val_acc"] == [92.734, 97.5]  # still recorded


def test_bar_mode_prints_a_line_per_trial_and_the_final_bar_once(tmp_path, mnist_root, tiny_data,
                                                                  capsys):
    from search.loop.run import prepare_study, work

    a = SearchConfig(budget=2000, n_trials=2, epochs=1, study_name="bars", study_dir=tmp_path,
                     data_dir=str(mnist_root), device="cpu", val_size=500, train_subset=1000,
                     warm_start=False, references=False, quiet=False)
    work(a, prepare_study(a, tiny_data), tiny_data)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "trial 0 complete params=" in text or "trial 0 pruned params=" in text
    assert "trial 1 complete params=" in text or "trial 1 pruned params=" in text
    assert "trial 1: " in text and " params, " in text  # the epoch bar names trial and size
    assert out.err.count("2/2 [") == 1  # the study bar's final state is drawn once


def test_chance_warning_when_most_completed_trials_did_not_learn():
    study = optuna.create_study(directions=["maximize", "minimize"])
    a = SearchConfig(epochs=1, train_subset=5000)
    for acc in (10.5, 11.0, 98.0):
        study.add_trial(_frozen(TrialState.COMPLETE, values=[acc, 1000]))
    msg = chance_warning(study, a)
    assert msg is not None and "2 of 3 completed trials are below 20 %" in msg
    assert "--epochs" in msg and "--train-subset" in msg and "\n" not in msg
    study.add_trial(_frozen(TrialState.COMPLETE, values=[97.0, 1000]))
    assert chance_warning(study, a) is None  # half is not most
    assert chance_warning(optuna.create_study(directions=["maximize", "minimize"]),
                          dataclasses.replace(a)) is None
