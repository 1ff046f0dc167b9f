"""Metrics: Prometheus exposition of what the data plane observes."""
