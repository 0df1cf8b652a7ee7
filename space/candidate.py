"""A candidate = a network config plus its training recipe; JSON in and out; a one-line summary.

The JSON form is what every trial stores (user attr ``config``) and what
``nas-mnist train --config`` reads, so any trial can be retrained from its record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from space.config import NetConfig
from space.params import ConfigError, validate
from space.recipe import TrainConfig

__all__ = ["Candidate", "describe", "load_candidate"]


@dataclass(frozen=True)
class Candidate:
    net: NetConfig
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {"net": self.net.to_dict(), "train": asdict(self.train)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        try:
            net = NetConfig.from_dict(d["net"])
            cand = cls(net=net, train=TrainConfig(**d["train"]))
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"not a nas-mnist config: {e}") from None
        validate(net)  # refuse a net that cannot be built now, not later in build()
        return cand

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def load_candidate(path: str | Path) -> Candidate:
    """Read a config file written by `search` (a trial's `config` attr) or by hand."""
    try:
        return Candidate.from_dict(json.loads(Path(path).read_text()))
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not a text (UTF-8) file") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"config {path} is not JSON: {e.msg} at line {e.lineno}") from None


def describe(net: NetConfig) -> str:
    """One line, e.g. 'c8 s16 P | t8 s16p P | gap-lin10 bn_relu d0.05' (s: separable 3x3)."""
    parts: list[str] = []
    for c in net.convs:
        kind = "t" if c.k == 1 else "s" if c.sep else "c"
        tok = kind + str(c.out) + ("p" if c.k == 3 and c.pad else "")
        parts.append(tok + (" P |" if c.pool else ""))
    h = net.head
    names = {"flatten": "flat", "gap": "gap", "gap_conv": "gap-conv", "gap_linear": "gap-lin"}
    head = names[h.kind]
    head += f"{h.hidden}-10" if h.hidden else ("10" if h.kind in ("gap_conv", "gap_linear") else "")
    acts = sorted({c.act for c in net.convs if c.act not in ("none", "relu")}) or ["nobn"]
    drops = {(c.drop, c.drop2d) for c in net.convs if c.drop > 0}
    drop = "".join(f" d{'c' if d2 else ''}{p:.2g}" for p, d2 in sorted(drops))
    return f"{' '.join(parts)} {head} {'/'.join(acts)}{drop}"
