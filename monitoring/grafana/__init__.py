"""The Grafana dashboard, generated from Python so its queries can be checked."""
