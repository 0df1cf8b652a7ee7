"""Benchmarks: trainer vs notebook throughput (`nas-mnist bench`), the sampler comparison, and the
notebook baseline loop. Imports loop, results, training, store and space."""
