"""What a candidate network is: config, build, analytic size, sampler, reference networks."""

from space.build import Net, build
from space.candidate import Candidate, describe, load_candidate
from space.config import Conv, Head, NetConfig
from space.neighbour import neighbour
from space.params import ConfigError, count_macs, count_params, spatial_sizes, validate
from space.recipe import BOUNDS, TrainConfig
from space.references import REFERENCES, REPORTED, reference
from space.sampler import (
    RECIPE_KEYS,
    BudgetError,
    decode,
    net_params,
    sample,
    size_for,
    smallest_budget,
    suggest,
)
from space.warmstart import transfer, warm_starts

__all__ = [
    "BOUNDS", "RECIPE_KEYS", "REFERENCES", "REPORTED", "BudgetError", "Candidate", "ConfigError",
    "Conv", "Head", "Net", "NetConfig", "TrainConfig", "build", "count_macs", "count_params",
    "decode", "describe", "load_candidate", "neighbour", "net_params", "reference", "sample",
    "size_for", "smallest_budget", "spatial_sizes", "suggest", "transfer", "validate",
    "warm_starts",
]
