"""What a search shows while it runs: the running trial's epoch bar and one line per trial."""

from __future__ import annotations

from collections.abc import Callable

import optuna
from tqdm.auto import tqdm

__all__ = ["EpochBar", "trial_line"]


class EpochBar:
    """Runs the objective under an epoch bar naming the trial, its size and architecture, with the
    validation accuracy (%) of the last finished epoch.

    Neither the objective nor the trainer offers a hook at a trial's start: the trial's own user
    attr writes (params and arch before training, the val_acc curve after each epoch) are its
    record of progress, so the bar follows them on this one trial object.
    """

    def __init__(self, objective: Callable[[optuna.Trial], tuple[float, int]], epochs: int):
        self.objective, self.epochs = objective, epochs

    def __call__(self, trial: optuna.Trial) -> tuple[float, int]:
        bar: tqdm | None = None
        params: object = "?"
        write = trial.set_user_attr

        def set_user_attr(key: str, value: object) -> None:
            nonlocal bar, params
            write(key, value)
            if key == "params":
                params = value
            elif key == "arch" and bar is None:
                size = f"{params:,}" if isinstance(params, int) else params
                bar = tqdm(total=self.epochs, desc=f"trial {trial.number}: {size} params, {value}",
                           unit="epoch", leave=False, dynamic_ncols=True)
            elif key == "val_acc" and bar is not None and isinstance(value, list) and value:
                bar.n = len(value)  # no value before the first epoch has ended
                bar.set_postfix_str(f"val_acc={value[-1]:.2f}%")

        trial.set_user_attr = set_user_attr  # type: ignore[method-assign]
        try:
            return self.objective(trial)
        finally:
            if bar is not None:
                bar.close()


def trial_line(t: optuna.trial.FrozenTrial) -> str:
    """One line per finished trial; a pruned or failed one shows its last epoch's accuracy."""
    why = t.user_attrs.get("fail_reason") or t.user_attrs.get("stop_reason")
    params = t.user_attrs.get("params")
    size = f"params={params:,}" if isinstance(params, int) else "params=?"
    curve = [v for v in t.user_attrs.get("val_acc") or [] if v is not None]
    if t.values:
        acc = f"val_acc={t.values[0]:.2f}%"
    elif curve:
        acc = f"val_acc={curve[-1]:.2f}% at epoch {len(curve)}/{t.user_attrs.get('epochs', '?')}"
    else:
        acc = "no epoch finished"
    arch = t.user_attrs.get("arch")
    return (f"trial {t.number} {t.state.name.lower()} {size} {acc}" + (f" {arch}" if arch else "")
            + (f" ({why})" if why else ""))
