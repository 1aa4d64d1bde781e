"""A bucket of adviser documents written by our generator (the last 30 days before now), plus
broken ones; the config file that points analytics at it."""

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.exporters.knowledge_graph.documents import (
    adviser_documents,
    upload_adviser_documents,
)
from thoth_monitoring.exporters.knowledge_graph.seed import build_dataset


@dataclass
class Ceph:
    settings: S3Settings
    client: Any
    documents: list[dict[str, Any]]  # the readable ones
    broken: dict[str, str]  # key: the reason analytics gives

    def put(self, name: str, body: bytes) -> str:
        key = self.settings.folder("adviser") + name
        self.client.put_object(Bucket=self.settings.bucket, Key=key, Body=body)
        return key

    def config(self, folder: Path, **options: object) -> Path:
        lines = [
            "ceph:",
            f"  endpoint_url: {self.settings.endpoint_url}",
            f"  bucket: {self.settings.bucket}",
            f"  deployment: {self.settings.deployment}",
            *(f"{key}: {value}" for key, value in options.items()),
        ]
        path = folder / "analytics.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path


@pytest.fixture
def ceph(s3_endpoint: str) -> Ceph:
    settings = S3Settings(endpoint_url=s3_endpoint, bucket=f"thoth-{uuid.uuid4().hex[:8]}",
                          deployment="ocp4-stage")  # fmt: skip
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=settings.bucket)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    documents = list(adviser_documents(build_dataset(3000, now), "ocp4-stage"))
    upload_adviser_documents(
        client, settings.bucket, settings.folder("adviser"), documents, progress=False
    )
    bucket = Ceph(settings, client, documents, {})
    day = documents[0]["metadata"]["document_id"].split("-")[1][:6]  # a day with documents
    for name, body, reason in (
        (f"adviser-{day}000001-bad1", b"{not json", "not JSON"),
        (f"adviser-{day}000002-bad2", _broken(documents[0], f"adviser-{day}000002-bad2",
                                              error=None), "result.error: missing"),
        (f"adviser-{day}000003-bad3", _broken(documents[0], f"adviser-{day}000003-bad3",
                                              parameters={"recommendation_type": 7}),
         "result.parameters.recommendation_type: expected a string, got int"),
    ):  # fmt: skip
        bucket.broken[bucket.put(name, body)] = reason
    # beside a document, never read
    bucket.put(documents[0]["metadata"]["document_id"] + ".request", b"{}")
    return bucket


def _broken(document: dict[str, Any], name: str, **result: object) -> bytes:
    """``document`` under another name, with fields of its result replaced (None: removed)."""
    changed = copy.deepcopy(document)
    changed["metadata"]["document_id"] = name
    for field, value in result.items():
        changed["result"].pop(field)
        if value is not None:
            changed["result"][field] = value
    return json.dumps(changed).encode()
