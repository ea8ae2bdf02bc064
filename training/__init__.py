"""The reference training pipeline: fit, log the SPEC's MLflow records, register, gate and promote.

`python -m training --help` lists the commands; `training.train.train_and_register` is the Python API.
"""
