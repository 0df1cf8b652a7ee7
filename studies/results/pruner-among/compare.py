"""The pruner A/B read from its studies (one per rule and seed): trials, worker-minutes, best
validation accuracy of the drawn trials per size cap against the warm starts' (search lift), and
the drawn trials that finished. Usage: python compare.py STUDY... (run from the repository root)."""

import sys

import optuna
from optuna.trial import TrialState

from search.store.queued import is_start

CAPS = (1500, 2000, 4000, 5000, 8000, 10224, 20000)


def best(trials, cap):
    accs = [t.values[0] for t in trials if t.values[1] <= cap]
    return max(accs) if accs else float("nan")


def main(names):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    head = "| study | drawn | complete | pruned at 1 / 3 / 9 | TPE worker-min | " + " | ".join(
        f"≤ {c:,}: best (lift)" for c in CAPS) + " |"
    print(head + "\n|" + "---|" * (head.count("|") - 1))
    studies = {n: optuna.load_study(study_name=n, storage=f"sqlite:///studies/results/{n}.db")
               for n in names}
    for name, s in studies.items():
        drawn = [t for t in s.trials if not is_start(t) and t.state.is_finished()]
        starts = [t for t in s.trials if is_start(t) and t.state == TrialState.COMPLETE]
        done = [t for t in drawn if t.state == TrialState.COMPLETE]
        cut = [len(t.user_attrs.get("val_acc", [])) for t in drawn if t.state == TrialState.PRUNED]
        mins = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in drawn) / 60
        cells = []
        for c in CAPS:
            b, w = best(done, c), best(starts, c)
            cells.append(f"{b:.2f} ({b - w:+.2f})" if b == b else "— ")
        print(f"| {name} | {len(drawn)} | {len(done)} | {cut.count(1)} / {cut.count(3)} / "
              f"{cut.count(9)} | {mins:.0f} | " + " | ".join(cells) + " |")
    for name, s in studies.items():
        print(f"\n{name}: drawn trials that finished (all epochs)")
        for t in s.trials:
            if not is_start(t) and t.state == TrialState.COMPLETE:
                u = t.user_attrs
                print(f"  trial {t.number}: {u['params']:,} params, {t.values[0]:.2f} % val, "
                      f"batch {2 ** t.params['log2_batch']}, {u['arch']}")


if __name__ == "__main__":
    main(sys.argv[1:])
