"""The Pareto front of a finished (or running) study as a table, printed and saved as CSV.

The front is Optuna's own (`study.best_trials`: non-dominated COMPLETE trials on validation
accuracy and params); test-set columns, when present, are added beside it and never change it.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd

from search.atomic import atomic_write

__all__ = ["TEST_COLUMNS", "front_summary", "front_table", "front_trials", "write_front"]

# user attrs written by the evaluation step (issue: honest evaluation), shown when present
TEST_COLUMNS = ("test_acc", "test_mean", "test_sd", "test_seeds")


def front_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Non-dominated completed trials, smallest first."""
    return sorted(study.best_trials, key=lambda t: (t.values[1], -t.values[0], t.number))


def front_table(study: optuna.Study) -> pd.DataFrame:
    rows = []
    for t in front_trials(study):
        tr = t.user_attrs.get("config", {}).get("train", {})
        row = {
            "trial": t.number,
            "params": int(t.values[1]),
            "val_acc": round(t.values[0], 2),
            "epochs": len(t.user_attrs.get("val_acc", [])),
            # a reference net, or a warm start's shape at its size (e.g. onepool@1.9k)
            "reference": t.user_attrs.get("reference") or t.user_attrs.get("warm_start", ""),
            "optimizer": tr.get("optimizer"),
            "lr": tr.get("lr"),
            "batch_size": tr.get("batch_size"),
            "schedule": tr.get("schedule"),
            "arch": t.user_attrs.get("arch", ""),
        }
        row.update({c: t.user_attrs[c] for c in TEST_COLUMNS if c in t.user_attrs})
        rows.append(row)
    return pd.DataFrame(rows)


def write_front(study: optuna.Study, csv_path: Path) -> pd.DataFrame:
    """Write the front to `csv_path` (atomically: a reader never sees half a file)."""
    df = front_table(study)
    atomic_write(csv_path, lambda tmp: df.to_csv(tmp, index=False))
    return df


def front_summary(name: str, df: pd.DataFrame, files: list[Path]) -> str:
    """What `search` and `pareto` print about a front: one heading naming the files written, then
    the table (the same columns as pareto.csv), so both commands show one and the same table."""
    where = ", ".join([str(files[0]), *(f.name for f in files[1:])]) if files else "nothing"
    head = f"Pareto front of study {name!r} ({len(df)} trials) -> {where}"
    return f"{head}\n{df.to_string(index=False)}" if len(df) else head
