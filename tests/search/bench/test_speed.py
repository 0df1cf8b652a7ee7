"""`nas-mnist bench speed` (search.bench.speed) and the trainer's speed paths it measures."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from search.bench.plans import PLANS
from search.bench.speed import bench_nets, same_work, trainer_rates
from search.cli import main
from search.training.data import MnistData, augment, batches, load_mnist, normalize
from space import count_params
from space.recipe import TrainConfig


@pytest.fixture(scope="module")
def small(mnist_root: Path) -> MnistData:
    return load_mnist(mnist_root, val_size=300, subset=600, download=False)


def _cells(out: str, net: str) -> list[str]:
    line = next(ln for ln in out.splitlines() if ln.split()[:1] == [net])
    return line.split()


@pytest.mark.slow
def test_bench_quick_on_cpu(mnist_root: Path, capsys: pytest.CaptureFixture) -> None:
    out = ""
    for section in ("train", "search"):
        assert main(["bench", "speed", "--quick", "--only", section, "--device", "cpu",
                     "--data-dir", str(mnist_root)]) == 0
        out += capsys.readouterr().out
    assert "nas-mnist bench speed on cpu" in out and "training throughput" in out
    for net in ("ref10224", "d4959"):
        _, params, _threads, nb, ours, ratio = _cells(out, net)
        assert int(params) == count_params(bench_nets()[net])
        assert int(nb) > 0 and int(ours) > 0 and float(ratio) > 0
    plan = PLANS[("cpu", True)]
    rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)",
                      out, flags=re.M)
    assert [int(r[0]) for r in rows] == [1, plan.jobs]  # concurrent workers
    for _, trials, epochs, per_h, epochs_h, _speedup, rss in rows:
        assert int(trials) == plan.trials and int(epochs) == plan.trials * plan.epochs
        assert int(per_h) > 0 and int(epochs_h) > 0 and 50 < int(rss) < 20_000
    assert "trainer vs notebook, ref10224" in out


def test_bench_bad_threads(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main(["bench", "speed", "--device", "cpu", "--threads", "0,x"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "--threads" in err


def test_nets_and_same_work() -> None:
    sizes = {n: count_params(c) for n, c in bench_nets().items()}
    assert sizes == {"ref10224": 10224, "d4959": 4959}
    hp = same_work(TrainConfig(optimizer="adamw", batch_size=512, schedule="onecycle"))
    assert (hp.optimizer, hp.batch_size, hp.schedule, hp.rotate, hp.epochs) == (
        "sgd", 128, "none", 7.0, 1)


def test_trainer_rates(small: MnistData) -> None:
    plan = replace(PLANS[("cpu", True)], steps=2, reps=3)
    rates, first = trainer_rates(bench_nets()["d4959"], small, plan)
    assert len(rates) == 3 and all(r > 0 for r in rates) and first > 0


def test_augment_keeps_labels_and_statistics(small: MnistData) -> None:
    g = torch.Generator().manual_seed(0)
    seen = 0
    for xb, yb in batches(small.train, 128, shuffle=True, generator=g):
        # each shuffled image still carries its own label
        idx = [int((small.train.x == x).flatten(1).all(1).nonzero()[0]) for x in xb[:4]]
        assert torch.equal(small.train.y[idx], yb[:4])
        x = normalize(xb)
        assert augment(x, rotate=0, translate=0) is x
        near = augment(x, rotate=1e-4, translate=0, generator=g)  # ~identity warp
        assert torch.allclose(near, x, atol=1e-3)
        y = augment(x, rotate=7, translate=0.05, generator=g)
        lo, hi = normalize(torch.tensor([[0, 255]], dtype=torch.uint8)).flatten().tolist()
        assert y.min() >= lo - 1e-5 and y.max() <= hi + 1e-5
        assert abs(y.mean().item() - x.mean().item()) < 0.1  # ink is moved, not made
        seen += len(yb)
    assert seen == len(small.train)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trainer_rates_on_cuda(mnist_root: Path) -> None:
    gpu = load_mnist(mnist_root, val_size=300, subset=2000, device="cuda", download=False)
    plan = replace(PLANS[("cuda", True)], steps=5, reps=2)
    for compile in (False, True):
        rates, first = trainer_rates(bench_nets()["ref10224"], gpu, plan, compile=compile)
        assert len(rates) == 2 and min(rates) > 0 and first > 0


def test_search_rows_for_every_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    from search.bench import speed

    def row(root, device, plan, jobs, storage, workdir) -> dict[str, object]:
        return {"concurrent": jobs, "trials": 4, "cand-epochs": 8, "wall s": 1.0,
                "trials/h": 10 * jobs, "cand-epochs/h": 20 * jobs, "peak host MB/trial": 1}

    monkeypatch.setattr(speed, "search_row", row)
    plan = PLANS[("cuda", False)]
    df = speed.search_table(Path("."), torch.device("cpu"), plan, "sqlite", [8, 4, 8])
    assert list(df["concurrent"]) == [1, 4, 8] and list(df["speed-up"]) == [1.0, 4.0, 8.0]
    assert list(speed.search_table(Path("."), torch.device("cpu"), plan, "sqlite")
                ["concurrent"]) == [1, plan.jobs]  # no list: the plan's count
    goals = speed._goals(torch.device("cuda"), None, df)
    assert [g.split(":")[-1].strip() for g in goals] == ["NOT met", "met"]  # 4 < 8 workers
