"""What a search says before and after its trials, shared by one worker (`run_search`) and the
`--jobs` parent (`run_jobs`): the resume line, the front written whenever the search stops, and
a warning when the completed trials did not learn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import optuna
from optuna.trial import TrialState

from search.config import SearchConfig
from search.loop.interrupt import exit_status, stop_name
from search.results.outputs import save_front
from search.results.pareto import front_summary
from search.store.faults import writing
from search.store.study import StudyPaths, n_finished, redact

__all__ = ["CHANCE_ACC", "DATA_DIR_ATTR", "announce", "chance_warning", "finish", "stopped_line"]

CHANCE_ACC = 20.0  # val acc %: 10 % is guessing; below 20 % a net has barely begun to learn
DATA_DIR_ATTR = "data_dir"  # study user attr: the search's --data-dir, for `export`'s command


def announce(study: optuna.Study, a: SearchConfig) -> None:
    """Say so when `study` already holds trials of earlier runs (or of other workers), and record
    where this search read MNIST, so that `export` prints a command that finds it again."""
    trials = study.get_trials(deepcopy=False)
    # a new study holds only its queued reference trials; anything else was left by a run
    if any(t.state != TrialState.WAITING or "failed_trial" in t.system_attrs for t in trials):
        print(f"resuming study {a.name!r}: {n_finished(study)} of {a.n_trials} trials finished "
              f"({redact(a.storage_url)}; outputs in {a.study_root})", flush=True)
    if a.data_dir is not None:
        root = str(Path(a.data_dir).expanduser().resolve())
        if study.user_attrs.get(DATA_DIR_ATTR) != root:
            with writing(storage=study._storage):  # a full disk: one line naming the database
                study.set_user_attr(DATA_DIR_ATTR, root)


def stopped_line(e: BaseException, study: optuna.Study, a: SearchConfig, note: str = "") -> str:
    """The last line after Ctrl-C or SIGTERM: what stopped, how far the study got, how to resume."""
    return (f"{stop_name(e)}: {note}{n_finished(study)} of {a.n_trials} trials finished. Rerun "
            f"the same command to resume study {a.name!r} ({redact(a.storage_url)}).")


def chance_warning(study: optuna.Study, a: SearchConfig) -> str | None:
    """One line when most completed trials sit near chance: the search trained too little."""
    accs = [t.values[0] for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    low = sum(acc < CHANCE_ACC for acc in accs)
    if not accs or 2 * low <= len(accs):
        return None
    data = f"{a.train_subset:,} training images" if a.train_subset else "all training images"
    return (f"warning: {low} of {len(accs)} completed trials are below {CHANCE_ACC:.0f} % "
            f"validation accuracy (10 % is guessing): likely too little training ({a.epochs} "
            f"epoch(s) on {data}); raise --epochs (default {SearchConfig.epochs}) or "
            "--train-subset (or drop it)")


def finish(study: optuna.Study, a: SearchConfig, *, stopped: BaseException | None = None) -> None:
    """Write and print the front (pareto.csv, pareto.png); at a normal end, warn about
    chance-level trials.

    After a stop (Ctrl-C, SIGTERM, a run of failures: `stopped`), only when a trial finished, and a
    second Ctrl-C here leaves at once with the first one's exit status, without a traceback.
    """
    try:
        if stopped is not None and n_finished(study) == 0:
            return
        paths = StudyPaths(a.study_root)
        df = save_front(study, paths, a.budget)
        files = [paths.pareto_csv, paths.pareto_png]
        print("\n" + front_summary(a.name, df, files), flush=True)
        # after a stop the last line stays the one saying how to resume
        warning = chance_warning(study, a) if stopped is None else None
        if warning:
            print(warning, file=sys.stderr, flush=True)
    except KeyboardInterrupt as e:
        if stopped is None:
            raise
        code = stopped.code if isinstance(stopped, SystemExit) else exit_status(e)
        raise SystemExit(code) from None
