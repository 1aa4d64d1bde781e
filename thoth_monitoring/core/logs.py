"""One log line per event. The message names the event and its details come as fields
(``log.warning("collection_failed", extra={"metric": name, "error": text})``), rendered as
logfmt — ``event=collection_failed metric=m error="column x ..."``, values quoted and escaped
where a log tool would split them — or as one JSON object with one key per field
(``--log-format json``). One filter redacts secrets from every record, whoever logs it."""

import json
import logging
import re
import sys
import time
from typing import Any, Literal

LogFormat = Literal["keyvalue", "json"]

# Attributes every LogRecord has: anything else on a record was passed with extra=.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_SECRET_KEY = re.compile(r"token|password|passwd|secret|authorization|credential", re.I)
_URL_PASSWORD = re.compile(r"(?P<head>://[^:/@\s]*:)[^@\s]*@")
_CONNINFO_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
_BARE = re.compile(r"^[^\s\"=\\\x00-\x1f\x7f]+$")
REDACTED = "[redacted]"


def setup_logging(log_format: LogFormat = "keyvalue", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else LogfmtFormatter())
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "aiohttp.access", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller passed with ``extra=``."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = _entry(record, self)
        return " ".join(f"{key}={logfmt_value(value)}" for key, value in entry.items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_entry(record, self), default=str, ensure_ascii=False)


def _entry(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
        "level": record.levelname.lower(),
        "logger": record.name,
        "event": record.getMessage(),
    }
    entry.update((key, value) for key, value in fields(record).items() if key not in entry)
    if record.exc_info:
        entry["exception"] = formatter.formatException(record.exc_info)
    return entry


def logfmt_value(value: object) -> str:
    """``value`` as one logfmt value: bare when it cannot be misread, else a quoted string with
    backslash escapes (``"a b"``, ``"say \\"hi\\""``, ``""``)."""
    text = (
        "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)


class RedactSecrets(logging.Filter):
    """Blanks fields named like secrets, and passwords inside URLs and connection strings, in the
    message and in every string field."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg, record.args = record.getMessage(), None
        record.msg = redact_text(str(record.msg))
        for key, value in fields(record).items():
            if _SECRET_KEY.search(key):
                setattr(record, key, REDACTED)
            elif isinstance(value, str):
                setattr(record, key, redact_text(value))
        return True


def redact_text(text: str) -> str:
    text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", text)
    return _CONNINFO_PASSWORD.sub(rf"\g<head>{REDACTED}", text)
