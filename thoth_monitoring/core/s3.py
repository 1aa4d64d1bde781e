"""S3/Ceph plumbing every component shares: where the objects are, a bounded boto3 client, and
paged listing."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, SecretStr

from thoth_monitoring.core.config import Duration

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3Settings(BaseModel):
    """Where Thoth's objects are: Ceph RGW or any S3 endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str
    bucket: str
    prefix: str = "data"
    deployment: str
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    region: str = "us-east-1"
    verify_tls: bool = True
    timeout: Duration = 10.0

    def folder(self, document_type: str) -> str:
        """The key prefix of one result type, with its trailing slash."""
        return (
            "/".join(part.strip("/") for part in (self.prefix, self.deployment, document_type))
            + "/"
        )


def make_client(settings: S3Settings) -> "S3Client":
    """A boto3 S3 client with connect/read timeouts and bounded retries."""
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        verify=settings.verify_tls,
        aws_access_key_id=_secret(settings.access_key_id),
        aws_secret_access_key=_secret(settings.secret_access_key),
        config=Config(
            connect_timeout=settings.timeout,
            read_timeout=settings.timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"},
        ),
    )
    return client


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def list_pages(
    client: Any, bucket: str, prefix: str, start_after: str = ""
) -> Iterator[list[dict[str, Any]]]:
    """Objects under ``prefix`` in listing order, one ListObjectsV2 page (request) at a time."""
    arguments: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        arguments["StartAfter"] = start_after
    while True:
        page = client.list_objects_v2(**arguments)
        yield list(page.get("Contents", ()))
        if not page.get("IsTruncated"):
            return
        arguments["ContinuationToken"] = page["NextContinuationToken"]
