"""The trial loop: the objective, the Pareto pruner, one worker's loop over trials, `--jobs`
worker processes, and Ctrl-C/SIGTERM handling. Imports results, training, store and space."""
