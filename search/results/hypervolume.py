"""How good a front is, in one number: the 2-D hypervolume of (accuracy, params) points.

`bench front` scores each search's validation front with it on the log scale: accuracy above a
reference times decades of parameters below the budget, so that a gain at 500 params counts like
one at 5,000.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["hypervolume"]


def hypervolume(points: Iterable[tuple[float, int]], ref_acc: float, ref_params: int, *,
                log: bool = False) -> float:
    """Area dominated by (acc %, params) points above ref_acc and below ref_params: in pp*params,
    or with ``log`` in pp*decades (params on a log10 axis).

    Hand-written: 2-D is a sort and a sum, and Optuna's hypervolume helper is private API.
    """
    x = math.log10 if log else float
    pts = sorted((p, a) for a, p in points if a > ref_acc and p < ref_params)
    area, best = 0.0, ref_acc
    for i, (p, a) in enumerate(pts):
        best = max(best, a)  # accuracy reachable with <= p params
        nxt = pts[i + 1][0] if i + 1 < len(pts) else ref_params
        area += (x(nxt) - x(p)) * (best - ref_acc)
    return area
