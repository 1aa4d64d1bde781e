"""Prometheus rules, their promtool tests, the runbook and the Alertmanager configuration: data
the package ships (read through importlib.resources), no code."""
