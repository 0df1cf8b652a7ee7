"""What a study produces: the Pareto front, its picture and report, the honest test-set
evaluation, export of a trial as a standalone script, and the dashboard. Imports training, store
and space."""
