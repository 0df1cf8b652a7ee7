"""search without --jobs: one worker per core on CPU (one thread each), one on a GPU."""

from __future__ import annotations

import pytest

from search.errors import UserError
from search.loop import jobs


def test_one_worker_per_core_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAS_MNIST_JOBS", raising=False)
    monkeypatch.setattr(jobs, "cpu_cores", lambda: 6)
    assert jobs.default_jobs("cpu") == 6


def test_one_worker_on_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAS_MNIST_JOBS", raising=False)
    monkeypatch.setattr(jobs, "resolve_device", lambda name: __import__("torch").device("cuda"))
    monkeypatch.setattr(jobs, "cpu_cores", lambda: 6)
    assert jobs.default_jobs("cuda") == 1


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
