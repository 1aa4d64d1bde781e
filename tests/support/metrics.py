"""A metrics exporter over one metric file, for the collection tests."""

from pathlib import Path

from thoth_monitoring.exporters.metrics.service import MetricsExporter, MetricsExporterSettings


def metric_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "metrics.yaml"
    path.write_text("metrics:\n" + body)
    return path


def build(url: str, metrics: Path, **options: object) -> MetricsExporter:
    return MetricsExporter.build(
        MetricsExporterSettings.model_validate(
            {"database_url": url, "metrics": [metrics], "include_default_metrics": False, **options}
        )
    )
