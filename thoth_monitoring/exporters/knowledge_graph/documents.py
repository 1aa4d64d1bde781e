"""Synthetic adviser result documents, as Thoth's adviser stores them on Ceph, for the seeded
``adviser_run`` rows (the same ids, times, integrations and outcomes as the database).

Fields written (the subset of thoth-adviser's document that Thoth's graph sync and our report
read — see ``slo_reporter/adviser.py``):

- ``metadata.document_id``: ``adviser-<YYMMDDhhmmss>-<hex>``, also the object's name;
- ``metadata.datetime``: ISO 8601 UTC; ``metadata.duration`` (seconds); ``metadata.analyzer`` /
  ``analyzer_version``;
- ``metadata.arguments["thoth-adviser"].metadata``: ``origin`` (the user's repository) and
  ``source_type`` (the integration: CLI, KEBECHET, S2I, GITHUB_APP, JUPYTER_NOTEBOOK);
- ``result.error`` (bool) and ``result.error_msg``;
- ``result.parameters``: ``recommendation_type`` and ``requirements_format`` in lower case as the
  adviser writes them, ``count``, ``limit``, and ``project.runtime_environment``
  (``operating_system.name`` / ``version``, ``python_version``: the run's external environment);
- ``result.report``: ``products`` (advised stacks; none on error) and ``stack_info``.
"""

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm import tqdm

from thoth_monitoring.exporters.knowledge_graph import models as m
from thoth_monitoring.exporters.knowledge_graph.seed import Dataset

ADVISER_ERRORS = (
    "Resolver failed to find a resolution in the time allocated",
    "No release of package 'tensorflow' satisfies the requirement '>=3.0'",
    "Requirements could not be parsed: Pipfile is not a valid TOML document",
    "No solved releases found for package 'flask' in the runtime environment",
)


def adviser_documents(data: Dataset, deployment: str) -> Iterator[dict[str, Any]]:
    """One document per ``adviser_run`` row."""
    environments = {row["id"]: row for row in data.records(m.external_software_environment)}
    for run in data.records(m.adviser_run):
        environment = environments[run["external_run_software_environment_id"]]
        error = bool(run["adviser_error"])
        yield {
            "metadata": {
                "analyzer": run["adviser_name"],
                "analyzer_version": run["adviser_version"],
                "datetime": run["datetime"].isoformat() + "Z",
                "document_id": run["adviser_document_id"],
                "duration": run["duration"],
                "thoth_deployment_name": deployment,
                "arguments": {
                    "thoth-adviser": {
                        "verbose": run["debug"],
                        "metadata": {"origin": run["origin"], "source_type": run["source_type"]},
                    }
                },
            },
            "result": {
                "error": error,
                "error_msg": ADVISER_ERRORS[run["id"] % len(ADVISER_ERRORS)] if error else None,
                "parameters": {
                    "count": run["count"],
                    "limit": run["limit"],
                    "recommendation_type": run["recommendation_type"].lower(),
                    "requirements_format": run["requirements_format"].lower(),
                    "project": {
                        "runtime_environment": {
                            "operating_system": {
                                "name": environment["os_name"],
                                "version": environment["os_version"],
                            },
                            "python_version": environment["python_version"],
                        }
                    },
                },
                "report": {
                    "products": [] if error else [{"score": 0.5, "justification": []}],
                    "stack_info": [],
                },
            },
        }


def upload_adviser_documents(
    client: Any, bucket: str, folder: str, documents: list[dict[str, Any]], progress: bool = True
) -> int:
    """Put each document at ``<folder><document id>``; returns how many were written."""

    def put(document: dict[str, Any]) -> None:
        client.put_object(
            Bucket=bucket,
            Key=folder + document["metadata"]["document_id"],
            Body=json.dumps(document).encode(),
            ContentType="application/json",
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = pool.map(put, documents)
        for _ in tqdm(done, total=len(documents), desc="adviser documents", disable=not progress):
            pass
    return len(documents)
