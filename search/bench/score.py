"""`nas-mnist bench score DIR [DIR ...]`: score the studies of earlier benches as one bench.

Every ``<arm>-s<seed>.db`` under the folders (as ``bench front`` writes them) is scored with the
bench's own functions at the plan's ``minutes``: only trials completed within that budget count,
as in any bench. A run made with a longer budget is thereby cut to this one: a search's timeout
only stops new trials from starting, so the first M minutes of a longer run with the same seed
are what an M-minute run would have done (up to the machine's timing noise). This joins seeds run
at different times (``bench front --first-seed``) and reads a 30-minute bench at 12 minutes,
without training.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import optuna
import pandas as pd

from search.bench.front import ARMS, FrontResult, hv_curve, run_stats, write_result
from search.bench.plans import FrontPlan
from search.errors import UserError

__all__ = ["score_studies"]

_RUN = re.compile(rf"([{''.join(ARMS)}])-s(\d+)")  # as bench front names its studies
_SAME = ("budget", "epochs", "val_size", "train_subset")  # settings every scored run must share


def _runs(dirs: Sequence[Path]) -> list[tuple[str, int, Path]]:
    """(arm, seed, database) of every bench run under `dirs`; refused in one line when a folder
    holds none or two folders hold the same arm and seed."""
    found: dict[tuple[str, int], Path] = {}
    for d in dirs:
        dbs = [(m, db) for db in sorted(Path(d).glob("*.db")) if (m := _RUN.fullmatch(db.stem))]
        if not dbs:
            raise UserError(f"{d}: no bench studies (a-s<K>.db, b-s<K>.db, ...) there")
        for m, db in dbs:
            key = (m.group(1), int(m.group(2)))
            if key in found:
                raise UserError(f"arm {key[0]} seed {key[1]} is in both {found[key]} "
                                f"and {db}")
            found[key] = db
    return [(arm, seed, db) for (arm, seed), db in sorted(found.items(), key=lambda x: x[0][::-1])]


def score_studies(dirs: Sequence[Path], plan: FrontPlan, out: Path) -> FrontResult:
    """Score every bench run under `dirs` at ``plan.minutes``; write the CSVs and PNG to `out`.
    Budget, epochs and data sizes are the studies' own, and must be the same in all of them."""
    if any(Path(d).resolve() == Path(out).resolve() for d in dirs):
        raise UserError("--out must not be one of the scored folders (their own tables stay)")
    studies, settings = [], {}
    for arm, seed, db in _runs(dirs):
        try:
            study = optuna.load_study(study_name=db.stem, storage=f"sqlite:///{db}")
        except Exception as e:  # not a study database, or another study name inside
            raise UserError(f"cannot read {db}: {str(e).splitlines()[0]}") from None
        # what `search` ran with: the HV is relative to the budget, so runs must agree on it
        mine = {k: v for k, v in study.user_attrs.get("settings", {}).items() if k in _SAME}
        if studies and mine != settings:
            raise UserError(f"{db} ran with {mine}, {studies[0][2]} with {settings}")
        settings = mine
        studies.append((arm, seed, db, study.get_trials(deepcopy=False)))
    present = sorted({arm for arm, *_ in studies})
    if len(present) < 2:
        raise UserError(f"the folders need runs of two or more arms, not only {present[0]}")
    plan = replace(plan, **settings, seeds=len({seed for _, seed, *_ in studies}))
    runs, curves = [], []
    for arm, seed, db, trials in studies:
        if not any(t.datetime_start for t in trials):
            raise UserError(f"{db} has no started trial")
        curve = hv_curve(trials, plan.budget, plan.ref_acc)
        runs.append({"arm": arm, "seed": seed, **run_stats(trials, curve, plan)})
        curves.append(curve.assign(arm=arm, seed=seed))
    out.mkdir(parents=True, exist_ok=True)
    return write_result(pd.DataFrame(runs), curves, plan, out, {x: ARMS[x] for x in present})
