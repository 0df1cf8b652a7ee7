"""Optuna storage plumbing: storage URLs and study folders, heartbeats, the init lock, and writes
to finished trials. Imports only search.errors and optuna."""
