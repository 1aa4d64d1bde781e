"""The one adviser-document reader: the fields it takes, and why it refuses a document."""

import json
from typing import Any

import pytest

from thoth_monitoring.analytics.documents import DocumentError, error_class, parse_document

NAME = "adviser-261130120000-abc"


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metadata": {
            "document_id": NAME,
            "datetime": "2026-11-30T12:00:00.123456",
            "duration": 42,
            "arguments": {"thoth-adviser": {"metadata": {"source_type": "KEBECHET"}}},
        },
        "result": {
            "error": True,
            "error_msg": "No release of package 'flask' satisfies the requirement '>=9'",
            "parameters": {
                "recommendation_type": "stable",
                "project": {"runtime_environment": {
                    "operating_system": {"name": "rhel", "version": 8}, "python_version": "3.8"}},
            },
        },
    }  # fmt: skip
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = base
        for parent in parents:
            target = target[parent]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return base


def test_a_document_gives_every_field_of_its_run() -> None:
    run = parse_document(json.dumps(document()).encode(), NAME)
    assert (run.document_id, run.created_at.isoformat(), run.integration) == (
        NAME, "2026-11-30T12:00:00.123456+00:00", "KEBECHET")  # fmt: skip
    assert (run.recommendation_type, run.error, run.duration_seconds) == ("STABLE", True, 42)
    assert (run.os_name, run.os_version, run.python_version) == ("rhel", "8", "3.8")
    assert run.error_message == "No release of package 'flask' satisfies the requirement '>=9'"


def test_optional_fields_may_be_absent() -> None:
    bare = document(metadata__duration=None, metadata__arguments=None,
                    result__parameters__project=None, result__error=False)  # fmt: skip
    run = parse_document(json.dumps(bare).encode(), NAME)
    assert (run.integration, run.duration_seconds, run.os_name, run.python_version) == (
        "unknown", None, None, None)  # fmt: skip
    assert run.error_message is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff{", "not JSON"),
        (b"[1]", "expected a JSON object, got list"),
        (json.dumps(document(result__error=None)).encode(), "result.error: missing"),
        (json.dumps(document(result__error="yes")).encode(),
         "result.error: expected a boolean, got str"),
        (json.dumps(document(metadata__datetime="yesterday")).encode(),
         "metadata.datetime: expected ISO 8601, got 'yesterday'"),
        (json.dumps(document(metadata__duration="long")).encode(),
         "metadata.duration: expected a number, got str"),
        (json.dumps(document(metadata__document_id="adviser-1")).encode(),
         "metadata.document_id 'adviser-1' is not the object's name"),
        (json.dumps(document(result__parameters__recommendation_type=True)).encode(),
         "result.parameters.recommendation_type: expected a string, got bool"),
    ],
)  # fmt: skip
def test_a_broken_document_is_refused_saying_which_field(body: bytes, reason: str) -> None:
    with pytest.raises(DocumentError) as refused:
        parse_document(body, NAME)
    assert str(refused.value) == reason


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("No release of package 'flask' satisfies the requirement '>=9'",
         "No release of package '…' satisfies the requirement '…'"),
        ("Requirements could not be parsed: Pipfile is not a valid TOML document",
         "Requirements could not be parsed"),
        ("ResolverError: timeout after 3600 seconds", "ResolverError"),
        ("Killed after 3600  seconds", "Killed after N seconds"),
        ("Package 'a:b' failed", "Package '…' failed"),
    ],
)  # fmt: skip
def test_error_class_groups_messages_differing_in_names_and_numbers(
    message: str, expected: str
) -> None:
    assert error_class(message) == expected
