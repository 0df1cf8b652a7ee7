"""Every default of a search, in one frozen dataclass: what `nas-mnist search --help` shows, what
the loop runs with, what the benches start from.

Imports nothing but the standard library (no torch, no optuna), so that the command line builds
its help from it in a fraction of a second, and every layer of ``search`` may import it (as
``search.errors``). Field names are the ``search`` flags' (``--n-trials`` is ``n_trials``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PRUNE_AMONG", "RECIPES", "SAMPLERS", "SearchConfig", "default_storage"]

SAMPLERS = ("tpe", "random")  # --sampler choices; random is the baseline of `bench front`
PRUNE_AMONG = ("all", "draws", "mixed")  # --prune-among choices (search.loop.pruner)
RECIPES = ("drawn", "fast")  # --recipe choices: the sampler draws it, or the warm starts' one


def default_storage(study_dir: Path, name: str) -> str:
    """The storage of a study without --storage: one SQLite file per study in its folder."""
    return f"sqlite:///{Path(study_dir) / f'{name}.db'}"


@dataclass(frozen=True)
class SearchConfig:
    # what is searched
    budget: int = 10_000  # params per net, at most
    epochs: int = 15  # per trial
    val_size: int = 10_000  # validation images carved from the 60k training set
    train_subset: int | None = None  # train on the first N training images only (quick runs)
    seed: int = 0  # sampler seed; trial k trains with seed + k
    # how much
    n_trials: int = 100  # study total of finished (complete + pruned) trials, all runs and workers
    timeout: float | None = None  # seconds of this run; no new trial starts after it
    # how trials are drawn and cut
    sampler: str = "tpe"  # one of SAMPLERS
    startup_trials: int = 10  # TPE: random draws before it models the study (queued ones count)
    prune: bool = True  # Pareto-aware successive halving over epochs (search.loop.pruner)
    prune_eta: int = 3  # a rung keeps the top 1/eta of the trials that reached it
    prune_first_epoch: int = 1  # epoch of the first rung; then first * eta**k below the last
    prune_min_at_rung: int = 3  # trials (the judged one included) at a rung before it cuts
    # whom a drawn trial is ranked against at a rung: "all" trials, "draws" only (warm starts and
    # references, never pruned, then take no place in the rung), or "mixed" (front of all, top
    # 1/eta of the draws)
    prune_among: str = "all"
    # share of the trials, once the starts are done, that are a local move from a front member
    # (two values moved) instead of a TPE draw (search.loop.neighbours). Off: at 0.5, the 30-min
    # run (seed 0) was behind TPE alone at <= 1.5k / 2k / 4k and ahead only at <= 10k (+0.07 pp,
    # within seed noise; docs/benchmarks.md, "Local moves from the front")
    neighbours: float = 0.0
    # "drawn": the sampler draws each trial's recipe; "fast": every trial trains with the warm
    # starts' recipe (space.warmstart.FAST_RECIPE) and the sampler draws the net only. Not the
    # default: in two 30-minute seeds against same-hour runs of the default it drew fewer trials
    # and did not make the lift positive at every cap (docs/benchmarks.md, "Every draw on the
    # warm starts' recipe")
    recipe: str = "drawn"
    # params: every drawn net's size target at least this (a floor on the log scale the `size`
    # draw places nets on, space.sampler); 0: from each drawn shape's narrowest net. None: the
    # smallest warm start's size (900) where the budget is twice that (search.loop.starts.
    # size_floor). Draws under the smallest start were rarely cut (the smallest net at a rung is
    # on its front) and never beat it in 30-minute runs; with the floor the lift rose at 4 of 5
    # caps in each of two 30-minute seeds (docs/benchmarks.md, "A floor for the drawn sizes").
    # Not a setting of the study: a resumed run may change it
    min_params: int | None = None
    # what a new study starts with
    warm_start: bool = True  # proven shapes re-widthed to sizes up to the budget (space.warmstart)
    # Which shapes, in this order, each from what size (params) up: onepool with separable convs
    # (space.warmstart.SHAPES), alone. Plain onepool (from 4.5k) and ref10224's shape (from 3k)
    # ran beside it until the 30-minute runs and full4-b20000 had them behind it or level at
    # every size (plain onepool led once, by 0.04 pp at 9.9k in one earlier seed) while they took
    # about half the starts' worker-minutes (docs/benchmarks.md, "One shape of warm starts").
    warm_plan: tuple[tuple[str, int], ...] = (("onepool_sep", 0),)
    # The exact hand-tuned reference nets that fit the budget, own recipes, never pruned. Off: in
    # full2-b20000 the 11 queued trials (5 of them references) held both workers for ~50 of 60
    # minutes; the references are the yardstick (README, runs 1 and 2), not candidates.
    references: bool = False
    # Earlier studies (names in the same --study-dir or --storage) whose drawn front members a
    # new study also starts with, own recipes, never pruned (search.loop.starts)
    warm_from: tuple[str, ...] = ()
    # "STUDY#N": every trial trains trial N's net of an earlier study (re-widthed to the budget
    # where larger) and the sampler draws only the recipe; the one start is N's own recipe
    net_from: str | None = None
    # where
    study_name: str | None = None  # default b<budget>
    study_dir: Path = Path("studies")  # SQLite studies and their outputs
    storage: str | None = None  # Optuna storage URL; default sqlite:///<study_dir>/<name>.db
    data_dir: str | None = None  # MNIST root; default $NAS_MNIST_DATA or ~/.cache/nas-mnist
    device: str = "auto"  # auto, cpu, cuda or cuda:N
    quiet: bool = False  # log lines instead of progress bars

    def __post_init__(self) -> None:
        # a list from argparse's append or from JSON: stored as a tuple, so configs compare equal
        object.__setattr__(self, "warm_from", tuple(self.warm_from))

    @property
    def name(self) -> str:
        return self.study_name or f"b{self.budget}"

    @property
    def study_root(self) -> Path:
        """The study's own folder of outputs (search.store.study.StudyPaths)."""
        return Path(self.study_dir) / self.name

    @property
    def storage_url(self) -> str:
        return self.storage or default_storage(Path(self.study_dir), self.name)

    def settings(self) -> dict[str, object]:
        """What a resumed study must agree on (anything else may change between runs)."""
        return {"budget": self.budget, "epochs": self.epochs, "val_size": self.val_size,
                "seed": self.seed, "train_subset": self.train_subset, "sampler": self.sampler,
                "recipe": self.recipe}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (for a --jobs worker's command line); from_json reads them back."""
        out = dataclasses.asdict(self)
        out["study_dir"] = str(self.study_dir)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SearchConfig:
        return cls(**{**d, "study_dir": Path(d["study_dir"]),
                      "warm_plan": tuple((str(s), int(n)) for s, n in d["warm_plan"])})

    @classmethod
    def from_namespace(cls, ns: object) -> SearchConfig:
        """The fields an argparse namespace holds; the rest keep their defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(ns).items() if k in names})
