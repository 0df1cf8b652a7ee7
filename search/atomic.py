"""Files a reader never sees half-written: write beside the target, then rename over it.

Shared by every layer (results' front, picture, report and export, the --jobs workers' stats, the
unpacked MNIST files): a rename within one folder is atomic, so a crash, a full disk or a second
process reading at the same moment finds the old file or the new one, never a part.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Run ``write(tmp)`` on a private file beside `path` (its folder made if missing), then
    rename it to `path`; on any error the temporary file is removed and `path` left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # per process: workers write at once
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
