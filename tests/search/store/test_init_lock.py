"""search.store.init_lock: workers started together on a new database all open it."""

from __future__ import annotations

import pytest

from search.store import init_lock
from search.store.study import open_storage

ROUNDS, WORKERS = 3, 4


@pytest.mark.slow
def test_workers_starting_together_on_a_new_sqlite_file_all_open_it(open_together, tmp_path):
    # without the init lock about half of such rounds lost a worker ("table studies already exists")
    for r in range(ROUNDS):
        url = f"sqlite:///{tmp_path}/new{r}.db"
        assert open_together(url, WORKERS) == []
        assert open_storage(url, heartbeat=False).get_all_studies() == []  # a usable, empty store


def test_folder_lock_excludes_a_second_holder_and_gives_up_after_its_timeout(tmp_path, monkeypatch):
    pytest.importorskip("fcntl")
    monkeypatch.setattr(init_lock, "INIT_LOCK_TIMEOUT_S", 0.05)
    with init_lock.folder_lock(tmp_path):  # flock is per open file: a second open conflicts
        with pytest.raises(TimeoutError, match="stayed locked"):
            with init_lock.folder_lock(tmp_path):
                pass
    with init_lock.folder_lock(tmp_path):  # released on exit
        pass
    assert list(tmp_path.iterdir()) == []  # no lock file left behind
