"""One trial of the MOASHA arm, as Syne Tune's LocalBackend runs it: a process of its own per trial,
``python moasha_trial.py --st_config_json_filename FILE --st_checkpoint_dir DIR``.

It trains like a trial of our own search: the same MNIST split (search.training.data.load_mnist),
the draws decoded by ``space.decode`` (search.bench.moasha_space), initial weights and training
seeded by the trial's seed, our trainer, one fixed number of CPU threads. After every epoch it
reports (epoch, validation error %, params) with ``syne_tune.Reporter``; MOASHA stops a trial by
ending its process. What the arm reads back besides the reports lands in DIR: ``stop_reason.txt``
where the trainer stopped early (a diverging loss), ``weights.pt`` after the last epoch, each
written before the report that may end the process.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a file, Python puts this folder first: import this package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

__all__ = ["STOP_REASON", "WEIGHTS", "main", "run_trial"]

WEIGHTS = "weights.pt"
STOP_REASON = "stop_reason.txt"
Report = Any  # a callable taking the epoch's metrics as keywords (syne_tune.Reporter)


def run_trial(config: dict[str, Any], folder: Path, report: Report) -> None:
    """Train the net of Syne Tune config `config`, reporting each epoch; files into `folder`."""
    import torch

    from search.atomic import atomic_write
    from search.bench.moasha_space import drawn
    from search.loop.objective import DIVERGED_LOSS
    from search.training.data import load_mnist
    from search.training.device import resolve_device
    from search.training.train import EpochStats, train
    from space import build, count_params, decode

    torch.set_num_threads(int(config["threads"]))
    device = resolve_device(config["device"])
    data = load_mnist(config["data_dir"], device=device, val_size=int(config["val_size"]),
                      subset=config["train_subset"])
    params, _ = drawn(config)
    cand = decode(params, int(config["budget"]), int(config["epochs"]))
    n, seed = count_params(cand.net), int(config["trial_seed"])

    def leave(reason: str | None, last: bool) -> None:
        # MOASHA may end this process at any report (at a rung, and at the last epoch, where it
        # stops every trial): what the arm reads back is written before the report that may end it
        if reason:
            atomic_write(folder / STOP_REASON, lambda p: p.write_text(reason))
        elif last:
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            atomic_write(folder / WEIGHTS, lambda p: torch.save(state, p))

    def send(s: EpochStats) -> None:
        acc = round(100 * s.val_acc, 4) if math.isfinite(s.val_acc) else 0.0
        report(epoch=s.epoch, val_err=round(100 - acc, 4), val_acc=acc, params=n,
               val_loss=s.val_loss if math.isfinite(s.val_loss) else -1.0,  # JSON: no NaN
               epoch_s=round(s.seconds, 3))

    sent: list[int] = []

    def on_epoch(s: EpochStats) -> str | None:
        reason = None
        if s.train_loss > DIVERGED_LOSS:  # as our objective does
            reason = f"diverged: training loss {s.train_loss:.3g} at epoch {s.epoch}"
        leave(reason, s.epoch == cand.train.epochs)
        send(s)
        sent.append(s.epoch)
        return reason

    torch.manual_seed(seed)  # initial weights depend on the trial's seed alone, as in our search
    model = build(cand.net)
    hist = train(model, cand.train, data, seed=seed, on_epoch=on_epoch)
    if hist.stopped and not (folder / STOP_REASON).exists():  # a loss the trainer found not finite
        leave(hist.stopped, False)
        if not sent:  # in the first epoch: a trial without a report would end the whole tuner
            send(hist.epochs[-1])


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from syne_tune import Reporter
    from syne_tune.constants import ST_CHECKPOINT_DIR, ST_CONFIG_JSON_FNAME_ARG

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(f"--{ST_CONFIG_JSON_FNAME_ARG}", required=True)
    p.add_argument(f"--{ST_CHECKPOINT_DIR}", required=True)
    args = vars(p.parse_args(argv))
    config = json.loads(Path(args[ST_CONFIG_JSON_FNAME_ARG]).read_text())
    run_trial(config, Path(args[ST_CHECKPOINT_DIR]), Reporter())
    return 0


if __name__ == "__main__":
    sys.exit(main())
