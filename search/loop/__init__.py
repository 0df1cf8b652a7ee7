"""The trial loop: the objective, the Pareto pruner, the search loop (run: one process's loop over
trials), what a new study starts with (starts: warm starts, references, --warm-from), `--jobs`
worker processes (jobs), what a search prints before and after (summary), and
Ctrl-C/SIGTERM handling. Imports results, training, store and space."""
