import json
import logging

import pytest

from thoth_monitoring.core.logs import JsonFormatter, LogfmtFormatter, RedactSecrets


def record(event: str, **fields: object) -> logging.LogRecord:
    made = logging.getLogger("thoth.test").makeRecord(
        "thoth.test", logging.WARNING, __file__, 1, event, (), None, extra=fields
    )
    RedactSecrets().filter(made)
    return made


def test_logfmt_quotes_what_a_log_tool_would_split() -> None:
    line = LogfmtFormatter().format(
        record("collection_failed", metric="m", error='column "x" = bad\nnext', empty="", n=3)
    )
    assert line.endswith(
        "level=warning logger=thoth.test event=collection_failed metric=m "
        'error="column \\"x\\" = bad\\nnext" empty="" n=3'
    )


def test_json_has_one_key_per_field() -> None:
    entry = json.loads(JsonFormatter().format(record("listening", address="0.0.0.0:9701", n=2)))
    assert {k: entry[k] for k in ("event", "address", "n")} == {
        "event": "listening", "address": "0.0.0.0:9701", "n": 2,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "shown", "hidden"),
    [
        ({"github_token": "ghp_abc"}, "github_token=[redacted]", "ghp_abc"),
        ({"url": "postgresql://me:hunter2@db/x"}, "postgresql://me:[redacted]@db/x", "hunter2"),
        ({"dsn": "host=db password='s e' user=me"}, "password=[redacted] user=me", "s e"),
    ],
)
def test_one_filter_redacts_secrets_in_fields(
    fields: dict[str, str], shown: str, hidden: str
) -> None:
    line = LogfmtFormatter().format(record("connecting", **fields))
    assert shown in line and hidden not in line, line


def test_the_filter_redacts_secrets_in_messages_of_other_loggers() -> None:
    made = logging.getLogger("other").makeRecord(
        "other", logging.INFO, __file__, 1, "connect to %s", ("postgresql://u:pw@h/d",), None
    )
    RedactSecrets().filter(made)
    assert made.getMessage() == "connect to postgresql://u:[redacted]@h/d"
