"""Demos run by `make demo-loop`."""
