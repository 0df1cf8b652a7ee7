"""Arm b of `nas-mnist bench front --against REV`: the default search of another git revision.

The revision's own code runs, not today's with old settings: a temporary ``git worktree`` of REV
is checked out beside the repository, and its ``python -m search.cli search`` runs there with the
bench's settings as flags (flags every revision since the command line existed knows), in this
Python environment. Its study lands under the bench's ``--out`` like any other arm, so the
hypervolume is scored the same way. Why a subprocess: two versions of the ``search`` package
cannot be imported into one process.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

from search.config import SearchConfig
from search.errors import UserError

__all__ = ["repo_root", "resolve_rev", "search_at", "search_flags", "worktree"]


def repo_root() -> Path:
    """The git checkout this package runs from (where the worktree is added)."""
    return Path(__file__).resolve().parents[2]


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError("--against needs git on PATH") from None


def resolve_rev(rev: str, repo: Path | None = None) -> str:
    """The full commit hash of ``rev`` in the checkout; one-line UserError if there is none."""
    repo = repo or repo_root()
    if _git("rev-parse", "--git-dir", cwd=repo).returncode != 0:
        raise UserError(f"--against needs a git checkout of nas-mnist; {repo} is not one")
    r = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=repo)
    if r.returncode != 0:
        raise UserError(f"--against {rev}: no such commit in {repo}")
    return r.stdout.strip()


@contextlib.contextmanager
def worktree(commit: str, repo: Path | None = None) -> Iterator[Path]:
    """A detached worktree of ``commit`` in a temporary folder, removed afterwards."""
    repo = repo or repo_root()
    with tempfile.TemporaryDirectory(prefix="nas-mnist-against-") as tmp:
        tree = Path(tmp) / "tree"
        r = _git("worktree", "add", "--detach", "--quiet", str(tree), commit, cwd=repo)
        if r.returncode != 0:
            raise UserError(f"git worktree add {commit[:12]} failed: "
                            f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
        try:
            yield tree
        finally:
            _git("worktree", "remove", "--force", str(tree), cwd=repo)
            _git("worktree", "prune", cwd=repo)


def search_flags(a: SearchConfig, jobs: int) -> list[str]:
    """``search`` flags for the bench's settings of one run (no sampler/pruner flags: the other
    revision keeps its own defaults)."""
    f = ["--budget", str(a.budget), "--n-trials", str(a.n_trials), "--timeout", str(a.timeout),
         "--epochs", str(a.epochs), "--study", a.study_name,
         "--study-dir", str(Path(a.study_dir).resolve()), "--device", a.device,
         "--seed", str(a.seed), "--val-size", str(a.val_size), "--jobs", str(jobs), "--quiet"]
    if a.train_subset is not None:
        f += ["--train-subset", str(a.train_subset)]
    if a.data_dir is not None:
        f += ["--data-dir", str(Path(a.data_dir).resolve())]
    return f


def search_at(tree: Path, a: SearchConfig, jobs: int) -> list[FrozenTrial]:
    """Run the worktree's own ``search`` with the bench's settings; its study's trials."""
    # the tree first on the path also for its own worker processes, whatever their cwd: an
    # editable install of this checkout would otherwise win
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("NAS_MNIST_JOBS", None)  # `--jobs` is given; an inherited override would win
    cmd = [sys.executable, "-m", "search.cli", "search", *search_flags(a, jobs)]
    print(f"bench front: in {tree}: {shlex.join(cmd[1:])}", file=sys.stderr, flush=True)
    # its output goes to stderr, like the in-process arms': stdout keeps the bench's tables;
    # relayed line by line, as sys.stderr need not be a real file (pytest's capture is not)
    with subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            sys.stderr.write(line)
    rc = proc.returncode
    if rc != 0:
        raise UserError(f"the search of the --against revision exited with status {rc}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=a.study_name, storage=a.storage_url)
    return study.get_trials(deepcopy=False)
