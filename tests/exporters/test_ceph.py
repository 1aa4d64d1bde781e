"""Document counts against a real S3 server (moto in server mode, over HTTP)."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import boto3
import pytest

from thoth_monitoring.core.s3 import make_client
from thoth_monitoring.exporters.metrics.documents import DocumentCounter, DocumentCountSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def document_id(kind: str, number: int) -> str:
    when = datetime(2026, 1, 1) + timedelta(minutes=number)
    return f"{kind}-{when:%y%m%d%H%M%S}-{number:016x}"


@pytest.fixture
def settings(s3_endpoint: str) -> DocumentCountSettings:
    bucket = f"thoth-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return DocumentCountSettings(
        endpoint_url=s3_endpoint,
        bucket=bucket,
        prefix="data",
        deployment="ocp4-stage",
        document_types=("adviser", "solver", "security-indicators"),
        recount_interval=3600,
    )


def put(settings: DocumentCountSettings, *keys: str) -> None:
    """Upload ``keys``, several at once (the paging tests need more than a page of objects)."""
    client = make_client(settings)

    def one(key: str) -> None:
        client.put_object(Bucket=settings.bucket, Key=f"data/ocp4-stage/{key}", Body=b"{}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, keys))


def test_counts_documents_not_objects(settings: DocumentCountSettings) -> None:
    put(
        settings,
        *(f"adviser/{document_id('adviser', n)}" for n in range(5)),
        f"adviser/{document_id('adviser', 0)}.request",
        *(f"solver/{document_id('solver-rhel-8-py38', n)}" for n in range(3)),
        *(f"solver/{document_id('solver-fedora-34-py39', n)}" for n in range(2)),
        *(f"security-indicators/{document_id('security-indicator', 1)}/{part}"
          for part in ("bandit", "cloc", "aggregated")),
        "adviser-elsewhere/not-counted",
    )  # fmt: skip
    counter = DocumentCounter(make_client(settings), settings, clock=Clock())
    counter.refresh()
    assert counter.up
    assert counter.counts() == {"adviser": 5, "solver": 5, "security-indicators": 1}


@pytest.mark.e2e  # 1,600 objects into a real S3 server
def test_refresh_lists_only_new_documents_and_recount_catches_deletions(
    settings: DocumentCountSettings,
) -> None:
    put(settings, *(f"adviser/{document_id('adviser', n)}" for n in range(1500)))
    put(settings, *(f"solver/{document_id('solver-rhel-8-py38', n)}" for n in range(10)))
    clock = Clock()
    counter = DocumentCounter(make_client(settings), settings, clock=clock)
    counter.refresh()
    assert counter.counts()["adviser"] == 1500
    put(settings, *(f"adviser/{document_id('adviser', n)}" for n in range(1500, 1600)))
    put(settings, f"solver/{document_id('solver-rhel-8-py38', 99)}")
    before = counter.list_requests
    clock.now += 60
    counter.refresh()
    # One listing per known series (adviser, solver-rhel-8-py38) plus the empty
    # security-indicators folder, however many documents the bucket holds.
    assert counter.list_requests - before == 3
    assert counter.counts() == {"adviser": 1600, "solver": 11, "security-indicators": 0}

    make_client(settings).delete_object(
        Bucket=settings.bucket, Key=f"data/ocp4-stage/adviser/{document_id('adviser', 3)}"
    )
    clock.now += 60
    counter.refresh()
    assert counter.counts()["adviser"] == 1600  # deletions wait for the recount
    clock.now += 3600
    counter.refresh()
    assert counter.counts()["adviser"] == 1599


def test_unreachable_endpoint_sets_up_to_zero() -> None:
    settings = DocumentCountSettings(
        endpoint_url="http://127.0.0.1:9", bucket="b", deployment="d", timeout=1
    )
    counter = DocumentCounter(make_client(settings), settings)
    counter.up = True
    with pytest.raises(Exception, match="Could not connect"):
        counter.refresh()
    assert not counter.up


def test_requests_and_requests_without_result_incrementally_and_on_recount(
    settings: DocumentCountSettings,
) -> None:
    adviser = [document_id("adviser", n) for n in range(6)]
    indicator = [document_id("security-indicator", n) for n in range(3)]
    put(
        settings,
        # adviser 0-2 answered, 3 and 5 waiting, 4 a result without a request (internal)
        *(f"adviser/{adviser[n]}.request" for n in (0, 1, 2, 3, 5)),
        *(f"adviser/{adviser[n]}" for n in (0, 1, 2, 4)),
        # folder documents: the request sorts before the document's keys
        *(f"security-indicators/{indicator[n]}.request" for n in (0, 1)),
        f"security-indicators/{indicator[0]}/aggregated",
        f"security-indicators/{indicator[0]}/bandit",
    )  # fmt: skip
    clock = Clock()
    counter = DocumentCounter(make_client(settings), settings, clock=clock)
    counter.refresh()
    assert counter.requests() == {"adviser": (5, 2), "solver": (0, 0),
                                  "security-indicators": (2, 1)}  # fmt: skip
    assert counter.counts()["adviser"] == 4
    # later: adviser 5's result comes, so does a new request and the indicator's result
    put(
        settings,
        f"adviser/{adviser[5]}",
        f"adviser/{document_id('adviser', 9)}.request",
        f"security-indicators/{indicator[1]}/aggregated",
    )
    for _ in range(2):  # a refresh lists the waiting requests again: nothing is counted twice
        clock.now += 60
        counter.refresh()
        assert counter.requests() == {"adviser": (6, 2), "solver": (0, 0),
                                      "security-indicators": (2, 0)}  # fmt: skip
    clock.now += 3600  # the full recount agrees
    counter.refresh()
    assert counter.requests()["adviser"] == (6, 2)
