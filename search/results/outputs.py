"""What a study writes beside itself: the front's table and picture, the report, the dashboard's
figures and notes, and the evaluation step shared by `search --evaluate` and `pareto --evaluate`."""

from __future__ import annotations

import optuna
import pandas as pd

from search.results.pareto import write_front
from search.results.plot import plot_front
from search.store.faults import writing
from search.store.study import StudyPaths

__all__ = ["evaluate_and_write", "save_front", "write_outputs"]


def save_front(study: optuna.Study, paths: StudyPaths, budget: int | None) -> pd.DataFrame:
    """Write the front's pareto.csv and pareto.png, refresh the dashboard's figures and notes
    (search.results.publish); returns the front table."""
    from search.results.publish import publish  # plotly: imported only when outputs are written

    # a full disk (or a read-only folder): one line naming the file, not pandas' traceback
    with writing(paths.pareto_csv, study._storage):
        df = write_front(study, paths.pareto_csv)
    with writing(paths.pareto_png, study._storage):
        plot_front(study, paths.pareto_png, budget=budget)
    with writing(paths.root, study._storage):
        publish(study, paths)
    return df


def write_outputs(study: optuna.Study, paths: StudyPaths) -> pd.DataFrame:
    """pareto.csv, pareto.png and report.md; returns the front table."""
    from search.results.report import write_report

    df = save_front(study, paths, study.user_attrs.get("settings", {}).get("budget"))
    with writing(paths.report_md, study._storage):
        write_report(study, paths.report_md)
    return df


def evaluate_and_write(
    study: optuna.Study, paths: StudyPaths, *, data_root: str | None, device: str,
    reseed: int, epochs: int | None = None, train_subset: int | None = None,
    trials: list[int] | None = None, jobs: int = 1,
) -> tuple[optuna.Study, pd.DataFrame]:
    """The evaluation step of `pareto --evaluate` and `search --evaluate`, then the outputs."""
    from search.results.evaluate import evaluate_front
    from search.training.train import set_cpu_threads

    set_cpu_threads()
    study = evaluate_front(
        study, paths, data_root=data_root, device=device,
        reseed=reseed, epochs=epochs, train_subset=train_subset, trials=trials, jobs=jobs,
    )
    return study, write_outputs(study, paths)
