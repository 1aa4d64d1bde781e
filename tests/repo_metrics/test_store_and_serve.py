"""The knowledge on Ceph/S3 (moto over HTTP), and ``serve``: /readyz after the first
collection, /metrics from memory."""

import asyncio
import contextlib
import uuid
from pathlib import Path

import aiohttp
import boto3

from tests.repo_metrics.conftest import KEBECHET, UPDATE, Collection, at
from thoth_monitoring.demo.processes import free_port
from thoth_monitoring.repo_metrics.service import RepoMetrics, serve

REPO = "thoth-station/alpha"


def populate(collection: Collection) -> None:
    collection.github.add_repository(REPO)
    collection.github.add_pull_request(REPO, title=UPDATE, author=KEBECHET, author_type="Bot",
                                       at=at(0))  # fmt: skip
    collection.github.merge(REPO, 1, at(3))


async def test_knowledge_on_s3_survives_and_a_corrupt_object_is_recollected(
    collection: Collection, s3_endpoint: str
) -> None:
    populate(collection)
    bucket = f"thoth-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    where = {"endpoint_url": s3_endpoint, "bucket": bucket, "deployment": "ocp4-stage"}
    await collection.run(s3=where)
    key = f"data/ocp4-stage/repo-metrics/{REPO}/pull_requests.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b"{not json")
    metrics = RepoMetrics(
        collection.settings(s3=where), collection.settings(s3=where).knowledge_store()
    )
    assert await metrics.run()
    assert metrics.store.corrupt == [f"repo-metrics/{REPO}/pull_requests.json"]
    assert metrics.knowledge[REPO].pull_requests[1].merged_at == "2026-11-02T03:00:00Z"
    kept = s3.get_object(Bucket=bucket, Key=key + ".corrupt")["Body"].read()
    assert kept == b"{not json"
    assert metrics.store.repositories() == [REPO]


async def test_serve_is_ready_after_the_first_collection(
    collection: Collection, tmp_path: Path
) -> None:
    populate(collection)
    listen = f"127.0.0.1:{free_port()}"
    task = asyncio.create_task(serve(collection.settings(listen=listen, interval="1h")))
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://{listen}/readyz") as ready:
                        if ready.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("not ready after 10 s")
            async with session.get(f"http://{listen}/metrics") as response:
                body = await response.text()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert (
        'thoth_kebechet_pull_requests{kind="dependencies",manager="update",state="merged"} 1.0'
        in body
    )
    assert "thoth_repo_metrics_collection_success_timestamp_seconds " in body


async def test_a_store_that_cannot_be_written_fails_the_repository_not_the_command(
    collection: Collection, tmp_path: Path
) -> None:
    populate(collection)
    (tmp_path / "read-only").mkdir()
    (tmp_path / "read-only" / "repo-metrics").write_text("a file where a folder should be")
    metrics = await collection.run(store=tmp_path / "read-only")
    assert metrics.health.outcomes == {"failed": 1}
    assert metrics.health.last_success is None
