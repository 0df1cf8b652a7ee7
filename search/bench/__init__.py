"""Benchmarks, one module per `nas-mnist bench` subcommand: speed (trainer vs the notebooks' loop,
notebook_loop), front (the default search vs random search; against: another revision's), score
(earlier fronts scored as one), shapes (warm-start shapes at a few sizes), first_epoch (random draws
after one epoch); how much each measures: plans. Imports loop, results, training, store and
space."""
