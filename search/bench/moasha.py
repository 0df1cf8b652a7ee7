"""Arms c and d of ``bench front``: Syne Tune's MOASHA over our space, trainer and data.

MOASHA (multi-objective asynchronous successive halving, Salinas et al. and Schmucker et al.,
2021; the published method our pruner follows) runs as Syne Tune runs it for a user: its own
scheduler, its ``Tuner`` and its ``LocalBackend``, which starts one process per trial
(search.bench.moasha_trial) on ``jobs`` workers, with the threads our ``--jobs`` workers get.
The space, the trainer, the data, the epochs and the wall clock are ours
(search.bench.moasha_space translates the space); afterwards its trials land in an Optuna study
of our shape (search.bench.moasha_study translates them). Arm c draws every configuration at
random, arm d first runs our warm starts, as the ``points_to_evaluate`` that other Syne Tune
schedulers take: the two separate what the warm starts bring from what the sampler and pruner do.

Needs the ``peers`` extra (syne-tune); nothing else in ``search`` imports this module.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# importing syne_tune.backend sets OMP_NUM_THREADS=1 where it is unset; left in this process, it
# would give the --jobs workers of the other arms, started later, one thread each
_OMP = os.environ.get("OMP_NUM_THREADS")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from syne_tune import StoppingCriterion, Tuner  # noqa: E402
from syne_tune.backend import LocalBackend  # noqa: E402
from syne_tune.backend.trial_status import Status, Trial  # noqa: E402
from syne_tune.config_space import Domain  # noqa: E402
from syne_tune.optimizer.scheduler import SchedulerDecision, TrialSuggestion  # noqa: E402
from syne_tune.optimizer.schedulers.multiobjective.moasha import MOASHA  # noqa: E402
from syne_tune.results_callback import StoreResultsCallback  # noqa: E402
from syne_tune.tuner_callback import TunerCallback  # noqa: E402
from syne_tune.tuner_logger import TunerLogger  # noqa: E402

if _OMP is None:
    os.environ.pop("OMP_NUM_THREADS", None)

from optuna.trial import FrozenTrial  # noqa: E402

from search.bench import moasha_trial  # noqa: E402
from search.bench.moasha_space import config_space  # noqa: E402
from search.bench.moasha_study import Seen, write_study  # noqa: E402
from search.config import SearchConfig  # noqa: E402
from search.errors import UserError  # noqa: E402
from search.loop.run import MAX_FAILS_IN_A_ROW, load_data, validate  # noqa: E402
from search.training.device import cpu_cores  # noqa: E402
from space import warm_starts  # noqa: E402

__all__ = ["METRICS", "SLEEP_S", "run_moasha"]

METRICS = ["val_err", "params"]  # both minimised: validation error % (100 - accuracy) and size
# Syne Tune's default (5 s) between looks at busy workers would leave a worker idle for up to
# 5 s at every trial end and rung decision: a real cost on trials of seconds, which a user who
# knows the tool would not pay.
SLEEP_S = 0.5


class _Moasha(MOASHA):
    """Syne Tune's MOASHA, with its decisions untouched; what it suggests is drawn from a
    generator seeded by the study's seed (MOASHA.suggest draws from numpy's global one), after
    `points` (label, draws) as Syne Tune's ``points_to_evaluate`` would give them (keys a point
    leaves out are drawn, and unused by decode). Each config also carries its trial's training
    seed (seed + k for the k-th trial, as in our search) and its warm-start label. Every trial
    takes one draw, a point too: past the points, trial k has the k-th draw with or without them."""

    def __init__(self, space: dict[str, Any], points: list[tuple[str, dict[str, Any]]],
                 seed: int, **kw: Any) -> None:
        super().__init__(space, random_seed=seed, **kw)
        self._points, self._seed, self._k = list(points), seed, 0
        self._rng = np.random.RandomState(seed)

    def suggest(self) -> TrialSuggestion | None:
        label, fixed = self._points.pop(0) if self._points else ("", {})
        config = {k: v.sample(random_state=self._rng) if isinstance(v, Domain) else v
                  for k, v in self.config_space.items()}
        config.update(fixed, trial_seed=self._seed + self._k, warm_start=label)
        self._k += 1
        return TrialSuggestion.start_suggestion(config)


class _Record(TunerCallback):
    """What the tuner sees of each trial, for search.bench.moasha_study."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend, self.seen = backend, {}

    def on_start_trial(self, trial: Trial) -> None:
        self.seen[trial.trial_id] = Seen(dict(trial.config), trial.creation_time,
                                         self.backend.checkpoint_trial_path(trial.trial_id))

    def on_trial_result(self, trial: Trial, status: str, result: dict[str, Any],
                        decision: str) -> None:
        s = self.seen[trial.trial_id]
        s.results.append(dict(result))
        s.stopped = decision == SchedulerDecision.STOP

    def on_fetch_status_results(self, trial_status_dict: dict, new_results: list) -> None:
        for trial_id, (_, status) in trial_status_dict.items():
            s = self.seen[trial_id]
            s.status = status
            if status == Status.failed and not s.error:
                lines = [ln.strip() for ln in self.backend.stderr(trial_id) if ln.strip()]
                s.error = lines[-1][:500] if lines else ""


def _threads(jobs: int) -> int:
    """Torch threads per trial process, as our --jobs workers get them (search.loop.jobs): the
    user's own OMP_NUM_THREADS where it is set, else the cores shared out among the workers."""
    with contextlib.suppress(TypeError, ValueError):
        return max(1, int(_OMP))  # type: ignore[arg-type]
    return max(1, cpu_cores() // jobs)


@contextlib.contextmanager
def _synetune_folder(path: Path) -> Iterator[None]:
    """Syne Tune writes its tuner's files under $SYNETUNE_FOLDER (else ~/syne-tune): here, the
    arm's own folder, while the tuner is made."""
    old = os.environ.get("SYNETUNE_FOLDER")
    os.environ["SYNETUNE_FOLDER"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SYNETUNE_FOLDER", None)
        else:
            os.environ["SYNETUNE_FOLDER"] = old


def run_moasha(a: SearchConfig, jobs: int, *, warm: bool) -> list[FrozenTrial]:
    """Run MOASHA for ``a.timeout`` seconds on `jobs` workers (no new trial starts after it, a
    running one finishes, as in our search) and write study ``a.name``; returns its trials.
    `warm`: our warm starts (``a.warm_plan`` at ``a.budget``) are its first configurations."""
    if a.timeout is None:
        raise UserError("the MOASHA arm needs a time budget")
    device = validate(a)
    load_data(a, torch.device("cpu"))  # MNIST is there (one line if not), unpacked before workers
    constants = {"budget": a.budget, "epochs": a.epochs, "val_size": a.val_size,
                 "train_subset": a.train_subset, "data_dir": a.data_dir, "device": str(device),
                 "threads": _threads(jobs)}
    # MOASHA's rungs at grace_period * reduction_factor**k below max_t are our pruner's:
    # prune_first_epoch * prune_eta**k (1, 3, 9 by default), so both cut at the same epochs
    scheduler = _Moasha(config_space(constants),
                        warm_starts(a.budget, a.warm_plan) if warm else [], a.seed,
                        metrics=METRICS, do_minimize=True, time_attr="epoch", max_t=a.epochs,
                        grace_period=a.prune_first_epoch, reduction_factor=a.prune_eta)
    backend = LocalBackend(entry_point=moasha_trial.__file__, pass_args_as_json=True,
                           rotate_gpus=False)  # every worker on our one device, as --jobs does
    record = _Record(backend)
    with _synetune_folder(Path(a.study_root).resolve()):
        tuner = Tuner(trial_backend=backend, scheduler=scheduler, n_workers=jobs,
                      stop_criterion=StoppingCriterion(max_wallclock_time=a.timeout),
                      wait_trial_completion_when_stopping=True, sleep_time=SLEEP_S,
                      max_failures=MAX_FAILS_IN_A_ROW, tuner_name="syne-tune",  # in all
                      suffix_tuner_name=False, save_tuner=False,
                      callbacks=[StoreResultsCallback(), record],  # its results.csv.zip, and ours
                      print_update_interval=60,
                      output_logger=TunerLogger(use_colors=False, use_emojis=False))
    try:
        tuner.run()
    except ValueError as e:  # Syne Tune's "too many failures" / "no metrics" end of a run
        failed = [s.error for s in record.seen.values() if s.error]
        raise UserError(f"MOASHA arm {a.name}: {e}"
                        + (f"; last error: {failed[-1]}" if failed else "")) from None
    finally:
        seen = [record.seen[k] for k in sorted(record.seen)]
        study = write_study(a, seen, warm=warm, device=str(device))
    return study.get_trials(deepcopy=False)
