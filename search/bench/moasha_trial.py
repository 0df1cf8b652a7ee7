"""One trial of the MOASHA arm, as Syne Tune's LocalBackend runs it: a process of its own per trial,
``python moasha_trial.py --st_config_json_filename FILE --st_checkpoint_dir DIR``.

It trains like a trial of our own search: the same MNIST split (search.training.data.load_mnist),
the draws decoded by ``space.decode`` (search.bench.moasha_space), initial weights and training
seeded by the trial's seed, our trainer, one fixed number of CPU threads. After every epoch it
reports (epoch, validation error %, params) with ``syne_tune.Reporter``; MOASHA stops a trial by
ending its process. What the arm reads back besides the reports lands in DIR: ``stop_reason.txt``
where the trainer stopped early (a diverging loss), ``weights.pt`` after the last epoch.
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

    reported: list[int] = []

    def on_epoch(s: EpochStats) -> str | None:
        acc = round(100 * s.val_acc, 4) if math.isfinite(s.val_acc) else 0.0
        report(epoch=s.epoch, val_err=round(100 - acc, 4), val_acc=acc, params=n,
               val_loss=s.val_loss if math.isfinite(s.val_loss) else -1.0,  # JSON: no NaN
               epoch_s=round(s.seconds, 3))
        reported.append(s.epoch)
        if s.train_loss > DIVERGED_LOSS:  # as our objective does
            return f"diverged: training loss {s.train_loss:.3g} at epoch {s.epoch}"
        return None

    torch.manual_seed(seed)  # initial weights depend on the trial's seed alone, as in our search
    model = build(cand.net)
    hist = train(model, cand.train, data, seed=seed, on_epoch=on_epoch)
    folder.mkdir(parents=True, exist_ok=True)
    if hist.stopped and not reported:
        # a loss not finite in the first epoch ends training before on_epoch; a trial that ends
        # without a report would make Syne Tune's tuner abort the whole run
        on_epoch(hist.epochs[-1])
    if hist.stopped:
        (folder / STOP_REASON).write_text(hist.stopped)
    else:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()},
                   folder / WEIGHTS)


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
