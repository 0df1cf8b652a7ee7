"""What a new study starts with, queued before its sampler draws anything and trained to the end:
the warm starts (space.warmstart), the exact reference nets that fit (``--references``), and with
``--warm-from STUDY`` what earlier studies' samplers found.

The drawn members of each earlier study's validation front (its warm starts and references are
left out: the new study has its own) are queued like warm starts, with their own recipes and
never pruned: the same net where it fits the new budget, else its shape at the widest that fits
(space.warmstart.transfer). A net that is the same as an earlier one in the queue (a warm start,
or a member of another source) is queued once.

With ``--net-from STUDY#N`` the study searches one net's recipe: its one start is trial N's net
with its own recipe, and the net's draws are stored on the study (store.study.FIXED_NET), which
fixes them in every later trial of every run and worker. With ``--recipe fast`` (a setting of the
study) every trial trains with the warm starts' recipe and the sampler draws the net only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna

from search.config import SearchConfig
from search.errors import UserError
from search.results.pareto import front_trials
from search.store.queued import is_start
from search.store.study import FIXED_NET, open_existing, open_storage
from space import REFERENCES, count_params, decode, net_params, transfer, warm_starts
from space.warmstart import FAST_RECIPE, MIN_SIZE, label

__all__ = [
    "fixed_draws", "fixed_net", "queue_fixed_net", "queue_references", "queue_transfers",
    "queue_warm_starts", "size_floor", "transfers",
]


def queue_warm_starts(study: optuna.Study, budget: int,
                      plan: tuple[tuple[str, int], ...] = SearchConfig.warm_plan) -> list[str]:
    """Queue proven shapes re-widthed to sizes up to `budget` with the fast recipe (points of the
    space, so the sampler learns from them; labelled e.g. onepool@1.9k). Returns the labels."""
    labels = []
    for lab, params in warm_starts(budget, plan):
        study.enqueue_trial(params, user_attrs={"warm_start": lab})
        labels.append(lab)
    return labels


def queue_references(study: optuna.Study, budget: int) -> list[str]:
    """Queue the exact reference nets that fit `budget`, each with its own recipe."""
    names = [n for n, c in REFERENCES.items() if count_params(c.net) <= budget]
    for n in names:
        study.enqueue_trial({}, user_attrs={"reference": n})
    return names


def _source(a: SearchConfig, name: str, flag: str = "--warm-from") -> optuna.Study:
    if name == a.name:
        raise UserError(f"{flag} {name}: a study cannot start from itself")
    return open_existing(name, a.storage, Path(a.study_dir))[0]


def _from_budget(study: optuna.Study, flag: str) -> int:
    budget = (study.user_attrs.get("settings") or {}).get("budget")
    if budget is None:
        raise UserError(f"{flag} {study.study_name}: the study records no budget (not made by "
                        "nas-mnist search?)")
    return int(budget)


def _exists(a: SearchConfig) -> bool:
    """Whether the study is there already (then it had its transfers), writing nothing: an
    absent SQLite file is not created."""
    if a.storage is None and not (Path(a.study_dir) / f"{a.name}.db").is_file():
        return False
    storage = open_storage(a.storage_url, heartbeat=False)
    return a.name in {s.study_name for s in optuna.get_all_study_summaries(storage)}


def transfers(a: SearchConfig) -> list[tuple[str, dict[str, Any]]]:
    """(label, complete draw) per transferred net, smallest first, for a study not yet created
    (none for one that exists: a resumed study reads no earlier study); labels read e.g.
    ``b20000#15@8.0k``: trial 15 of study b20000, at 8,000 params here."""
    def key(p: dict[str, Any]) -> str:
        return json.dumps(decode(p, a.budget).to_dict(), sort_keys=True)

    if not a.warm_from or _exists(a):
        return []
    seen = {key(p) for _, p in warm_starts(a.budget, a.warm_plan)} if a.warm_start else set()
    out = []
    for name in a.warm_from:
        study = _source(a, name)
        from_budget = _from_budget(study, "--warm-from")
        for t in front_trials(study):
            if is_start(t) or not t.params:
                continue
            p = transfer(t.params, int(t.values[1]), from_budget, a.budget)
            if (k := key(p)) in seen:
                continue
            seen.add(k)
            n = count_params(decode(p, a.budget).net)
            out.append((n, label(f"{name}#{t.number}", n), p))
    return [(lab, p) for _, lab, p in sorted(out, key=lambda x: x[0])]


def queue_transfers(study: optuna.Study, found: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Enqueue `transfers(...)`'s nets as warm starts (trained to the end); returns the labels."""
    for lab, params in found:
        study.enqueue_trial(params, user_attrs={"warm_start": lab})
    return [lab for lab, _ in found]


def fixed_net(a: SearchConfig) -> tuple[str, dict[str, Any]] | None:
    """(label, complete draw) of ``--net-from STUDY#N`` for a study not yet created: trial N's
    net (re-widthed to the budget where larger) with its own recipe; None otherwise."""
    if a.net_from is None or _exists(a):
        return None
    name, _, num = a.net_from.rpartition("#")
    if not name or not num.isdigit():
        raise UserError(f"--net-from {a.net_from}: write STUDY#TRIAL, e.g. b20000#16")
    study = _source(a, name, "--net-from")
    t = next((t for t in study.get_trials(deepcopy=False) if t.number == int(num)), None)
    if t is None or t.state != optuna.trial.TrialState.COMPLETE:
        raise UserError(f"--net-from {a.net_from}: study {name!r} has no complete trial {num}")
    if not t.params:
        raise UserError(f"--net-from {a.net_from}: trial {num} is a reference net, not a draw "
                        "of the space")
    p = transfer(t.params, int(t.values[1]), _from_budget(study, "--net-from"), a.budget)
    return label(a.net_from, count_params(decode(p, a.budget).net)), p


def queue_fixed_net(study: optuna.Study, found: tuple[str, dict[str, Any]]) -> str:
    """Store the net's draws on the study (fixed from now on) and queue it with its own recipe."""
    lab, params = found
    study.set_user_attr(FIXED_NET, {"source": lab, "params": net_params(params)})
    study.enqueue_trial(params, user_attrs={"warm_start": lab})
    return lab


def fixed_draws(a: SearchConfig, net: tuple[str, dict[str, Any]] | None) -> dict[str, Any] | None:
    """The draws every trial of the study takes as given: ``--net-from``'s net (`net`, found by
    `fixed_net` for a new study) or ``--recipe fast``'s recipe; None when the sampler draws all."""
    if net is not None:
        return net_params(net[1])
    return dict(FAST_RECIPE) if a.recipe == "fast" else None


def size_floor(a: SearchConfig) -> int:
    """The least size target of a drawn net: ``--min-params``, else the smallest warm start's
    size (space.warmstart.MIN_SIZE) where the budget is at least twice that, else none (0)."""
    if a.min_params is not None:
        return a.min_params
    return MIN_SIZE if a.budget >= 2 * MIN_SIZE else 0
