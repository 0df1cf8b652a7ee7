"""nas-mnist's search: how candidate networks of ``space`` are found, trained and reported.

One subpackage per layer. A module imports only from its own subpackage, from layers below it,
from the modules every layer shares and from ``space``; never from a layer above
(``tests/search/test_layers.py`` checks this on every module). Shared by every layer, importing
no layer and neither torch nor optuna: ``search.errors`` (the one-line ``UserError`` every layer
raises), ``search.config`` (``SearchConfig``: every default of a search) and ``search.atomic``
(files written whole or not at all)::

    cli        command line: parsing and one-line errors only, one module per command;
      |        a command imports no other command (shared parser pieces: cli.common)
    bench      benchmarks: throughput, anytime front quality, warm-start shapes, first epochs
      |
    loop       the trial loop: objective, pruner, one worker's loop, --jobs, Ctrl-C handling
      |
    results    front, its hypervolume, picture, report, test-set evaluation, export, dashboard
      |
    training   device-resident MNIST, the Optuna-free trainer, device choice
    store      Optuna storages: URLs, heartbeats, init lock, writes to finished trials
      |        (training and store are side by side: neither imports the other)
    space      what a candidate network is (pure: no training, no optuna)
"""

LAYERS = ("cli", "bench", "loop", "results", ("training", "store"))  # top to bottom
SHARED = ("errors", "config", "atomic")  # modules of search/ itself, importable from every layer
