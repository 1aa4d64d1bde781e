"""bench/analytics' instruments against a real moto server: the counting proxy passes S3
requests through and counts them by operation, and the baseline reads every document once."""

import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from botocore.exceptions import ClientError

from bench.analytics import CountingProxy, day_documents, read_everything
from thoth_monitoring.analytics.documents import parse_document
from thoth_monitoring.core.s3 import S3Settings, make_client
from thoth_monitoring.exporters.knowledge_graph.documents import (
    adviser_documents,
    upload_adviser_documents,
)
from thoth_monitoring.exporters.knowledge_graph.seed import build_dataset


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[CountingProxy]:
    with CountingProxy(s3_endpoint) as counting:
        yield counting


@pytest.fixture
def counted(proxy: CountingProxy) -> S3Settings:
    settings = S3Settings(endpoint_url=proxy.url, bucket=f"bench-{uuid.uuid4().hex[:8]}",
                          deployment="ocp4-stage")  # fmt: skip
    make_client(settings).create_bucket(Bucket=settings.bucket)
    return settings


def test_proxy_passes_requests_through_and_counts_them_by_operation(
    proxy: CountingProxy, counted: S3Settings
) -> None:
    client = make_client(counted)
    for n in range(3):
        client.put_object(Bucket=counted.bucket, Key=f"a/{n}", Body=f"body {n}".encode())
    listed = client.list_objects_v2(Bucket=counted.bucket, Prefix="a/")
    body = client.get_object(Bucket=counted.bucket, Key="a/1")["Body"].read()
    with pytest.raises(ClientError, match="NoSuchKey"):
        client.get_object(Bucket=counted.bucket, Key="a/missing")
    assert [item["Key"] for item in listed["Contents"]] == ["a/0", "a/1", "a/2"]
    assert body == b"body 1"
    assert proxy.snapshot() == {"PUT bucket": 1, "PUT object": 3, "ListObjectsV2": 1,
                                "GetObject": 2}  # fmt: skip


def test_baseline_lists_and_reads_every_document_once(
    proxy: CountingProxy, counted: S3Settings
) -> None:
    templates = list(adviser_documents(build_dataset(3000, datetime(2026, 1, 1)), "ocp4"))
    days = [date(2026, 3, 1), date(2026, 3, 2)]
    documents = [d for day in days for d in day_documents(templates, day, 5)]
    folder = counted.folder("adviser")
    client = make_client(counted)
    upload_adviser_documents(client, counted.bucket, folder, documents, progress=False)
    client.put_object(Bucket=counted.bucket, Key=folder + "adviser-260302000001-bad",
                      Body=b"{not json")  # fmt: skip
    for document, day in zip(documents, [d for d in days for _ in range(5)], strict=True):
        name = document["metadata"]["document_id"]
        assert parse_document(json.dumps(document).encode(), name).created_at.date() == day
    before = proxy.snapshot()
    assert read_everything(counted) == {"rows_written": 10, "unreadable": 1}
    assert proxy.snapshot() - before == {"ListObjectsV2": 1, "GetObject": 11}
