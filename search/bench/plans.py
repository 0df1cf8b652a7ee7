"""How much each benchmark measures: the plans of `bench speed` and `bench front`, as data.

No torch, optuna or pandas here: `nas-mnist bench ... --help` shows these defaults, and building
the parser must stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from search.config import SearchConfig
from search.training.device import cpu_cores

__all__ = ["ARMS", "BENCH_EPOCHS", "DEFAULT_ARMS", "FULL", "PANEL_PLANS", "PLANS", "QUICK",
           "SPEED_NAMES", "FrontPlan", "PanelPlan", "Plan"]

BENCH_EPOCHS = 8  # epochs per trial of the search benches: the accuracy goals are at 8
# the searches `bench front --arms` compares (search.bench.front); a study of arm X, seed K is X-sK
ARMS = {"a": "default search", "b": "random, no pruning, no warm starts or references",
        "c": "Syne Tune MOASHA, random configurations",
        "d": "Syne Tune MOASHA, our warm starts first"}
DEFAULT_ARMS = ("a", "b")


@dataclass(frozen=True)
class Plan:
    """How much `bench speed` measures. Steps are optimizer steps of one batch."""

    steps: int  # timed steps per repetition
    reps: int  # repetitions; the median is quoted
    warmup: int  # untimed steps before the first repetition
    trials: int  # search section: finished trials per run
    epochs: int  # per trial
    subset: int  # training images per trial
    val: int  # validation images
    jobs: int  # concurrent workers compared with 1


PLANS = {  # (device type, --quick) -> plan
    ("cpu", False): Plan(steps=20, reps=3, warmup=3, trials=8, epochs=2, subset=5000, val=2000,
                         jobs=2),
    ("cpu", True): Plan(steps=3, reps=2, warmup=1, trials=2, epochs=1, subset=256, val=256, jobs=2),
    # 32 trials x 3 epochs took over 170 s with one worker on an H200: half that, so that the
    # rows for 1, 4, 8 and 16 workers fit in a few minutes of a leased GPU
    ("cuda", False): Plan(steps=80, reps=5, warmup=20, trials=16, epochs=2, subset=10_000,
                          val=10_000, jobs=8),
    ("cuda", True): Plan(steps=10, reps=2, warmup=3, trials=8, epochs=1, subset=2048, val=1000,
                         jobs=8),
}


@dataclass(frozen=True)
class FrontPlan:
    """How much `bench front` runs; ``minutes`` is per arm and seed."""

    seeds: int = 2
    first_seed: int = 0  # the runs are seeds first_seed, first_seed + 1, ...
    minutes: float = 12.0
    epochs: int = BENCH_EPOCHS
    budget: int = SearchConfig.budget
    jobs: int = 2  # worker processes per run; 1 runs in this process (MNIST read once)
    train_subset: int | None = None  # None: all 50k training images
    val_size: int = SearchConfig.val_size
    ref_acc: float = 90.0  # % : hypervolume reference accuracy (search.results.hypervolume)


# "About an hour on a 2-core CPU": 2 seeds x 2 arms x 12 minutes with 2 workers of one thread each
# (every core busy). A 10k-parameter net takes about 3 minutes per worker at 8 epochs there, so a
# run may overrun by that much: 4 x (12 + up to 3) min plus start-up is 50-62 min. 2 seeds are the
# fewest that give a spread; in 12 minutes 2 workers finish roughly 10-30 trials, a front from a
# few hundred parameters to the budget.
FULL = FrontPlan(jobs=min(FrontPlan.jobs, cpu_cores()))
# A smoke test: 2 x 2 runs of 20 s on 2,000 images at 1 epoch, in this process (no worker start-up);
# such nets sit far below 90 %, so the reference is chance level, else every HV would be 0.
QUICK = FrontPlan(seeds=2, minutes=20 / 60, epochs=1, budget=2000, jobs=1, train_subset=2000,
                  val_size=500, ref_acc=10.0)


@dataclass(frozen=True)
class PanelPlan:
    """How much `bench speed` measures per cell of its panel (net x batch size)."""

    images: int  # training images per timed epoch
    val: int  # validation images per timed evaluation
    reps: int  # timed epochs per cell (after one untimed); the median is reported
    batches: tuple[int, ...] = (32, 128, 256)
    nets: tuple[str, ...] | None = None  # None: the whole panel (search/bench/panel.json)


PANEL_PLANS = {
    "full": PanelPlan(images=2048, val=2048, reps=2),
    "quick": PanelPlan(images=256, val=256, reps=1, batches=(32, 128),
                       nets=("ref10224", "onepool@1.9k", "narrow28@4.0k")),
    # the costly levers (torch.compile) on three shapes: narrow, warm start, reference
    "levers": PanelPlan(images=2048, val=2048, reps=2, batches=(32, 128),
                        nets=("narrow28@4.0k", "onepool@5.0k", "ref10224")),
}
# the trainer's Speed variants `bench speed --speeds` compares (search.bench.panel.SPEEDS)
SPEED_NAMES = ("default", "plain", "pages", "foreach", "compile", "graphs", "nchw", "eval1024")
