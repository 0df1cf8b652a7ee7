"""search without --jobs: one worker per core on CPU (one thread each), up to 8 per GPU."""

from __future__ import annotations

import pytest

from search.errors import UserError
from search.loop import jobs


def test_one_worker_per_core_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAS_MNIST_JOBS", raising=False)
    monkeypatch.setattr(jobs, "cpu_cores", lambda: 6)
    assert jobs.default_jobs("cpu") == 6


@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cuda[:N] name resolves (no GPU needed); cpu stays the CPU."""
    import torch

    monkeypatch.delenv("NAS_MNIST_JOBS", raising=False)
    monkeypatch.setattr(jobs, "resolve_device", lambda name: torch.device(name))


@pytest.mark.parametrize(("cores", "devices", "want"), [
    (16, "cuda", jobs.GPU_WORKERS),  # several trials share a GPU
    (6, "cuda", 6),  # each worker needs a core
    (1, "cuda", 1),
    (16, ["cuda:0", "cuda:1"], 2 * jobs.GPU_WORKERS),
    (6, ["cuda:0", "cuda:1"], 6),  # 3 per GPU
    (1, ["cuda:0", "cuda:1"], 2),  # at least one per GPU
    (16, ["cpu", "cuda:0"], 2),  # not all GPUs: one per entry
])
def test_workers_on_gpus(gpus: None, monkeypatch: pytest.MonkeyPatch, cores: int,
                         devices: str | list[str], want: int) -> None:
    monkeypatch.setattr(jobs, "cpu_cores", lambda: cores)
    assert jobs.default_jobs(devices) == want


def test_environment_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_MNIST_JOBS", "3")
    assert jobs.default_jobs("cpu") == 3
    monkeypatch.setenv("NAS_MNIST_JOBS", "zero")
    with pytest.raises(UserError, match="NAS_MNIST_JOBS"):
        jobs.default_jobs("cpu")


def test_search_without_jobs_uses_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from search.cli import main

    seen: dict[str, int] = {}

    def fake_run_jobs(a, n, devices):
        seen["jobs"] = n
        raise SystemExit(0)

    monkeypatch.setenv("NAS_MNIST_JOBS", "2")
    monkeypatch.setattr(jobs, "run_jobs", fake_run_jobs)
    with pytest.raises(SystemExit):
        main(["search", "--budget", "2000", "--device", "cpu"])
    assert seen == {"jobs": 2}
