"""Locust load scenarios (`make load`)."""
