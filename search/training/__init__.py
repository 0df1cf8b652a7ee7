"""Training without Optuna: device-resident MNIST with its fixed validation split, the trainer
(per-epoch callback) and the choice of device. Imports only search.errors and space."""
