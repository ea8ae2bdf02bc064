"""Benchmarks: our predictor against `mlflow models serve` and MLServer, and alias-reload latency."""
