"""A real Prometheus (Debian) loaded with five weeks of known history via ``promtool tsdb
create-blocks-from openmetrics``; tests work out every expected number by hand from it."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from tests.support.prometheus import (
    END,
    REPORT_WEEK,
    history,
    serve_history,
)
from thoth_monitoring.core.s3 import S3Settings
from thoth_monitoring.exporters.knowledge_graph import models as m
from thoth_monitoring.exporters.knowledge_graph.documents import (
    adviser_documents,
    upload_adviser_documents,
)
from thoth_monitoring.exporters.knowledge_graph.seed import build_dataset


@pytest.fixture(scope="session")  # read-only: one Prometheus serves every module
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_history(tmp_path_factory.mktemp("prometheus"), history()) as url:
        yield url


@pytest.fixture(scope="module")
def ceph(s3_endpoint: str) -> tuple[S3Settings, list[dict[str, Any]]]:
    """A bucket with the seeded adviser documents, one corrupt document inside the week and a
    request object beside a document; returns the settings and the documents of the week."""
    settings = S3Settings(endpoint_url=s3_endpoint, bucket=f"thoth-{uuid.uuid4().hex[:8]}",
                          deployment="ocp4-stage")  # fmt: skip
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=settings.bucket)
    data = build_dataset(3000, END.replace(tzinfo=None) + timedelta(days=3))
    documents = list(adviser_documents(data, "ocp4-stage"))
    folder = settings.folder("adviser")
    upload_adviser_documents(client, settings.bucket, folder, documents, progress=False)
    inside = (REPORT_WEEK.start + timedelta(hours=1)).strftime("%y%m%d%H%M%S")
    client.put_object(Bucket=settings.bucket, Key=f"{folder}adviser-{inside}-badbad", Body=b"{")
    request = folder + documents[0]["metadata"]["document_id"] + ".request"
    client.put_object(Bucket=settings.bucket, Key=request, Body=b"{}")
    start, end = (REPORT_WEEK.start.replace(tzinfo=None), REPORT_WEEK.end.replace(tzinfo=None))
    in_week = [d for d in data.records(m.adviser_run) if start <= d["datetime"] < end]
    assert 5 < len(in_week) < len(documents)  # the week is a true subset
    week_ids = {run["adviser_document_id"] for run in in_week}
    return settings, [d for d in documents if d["metadata"]["document_id"] in week_ids]
