"""Prometheus alerts, the Grafana dashboard and `make monitor` for aliasserve."""
