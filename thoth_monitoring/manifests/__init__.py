"""Kubernetes resources generated from the project's one source of rules and dashboards:
PrometheusRule objects from ``alerts/rules/*.yaml`` and Grafana dashboard ConfigMaps from
``dashboards/*.json``, for ``deploy/base/generated/``."""
