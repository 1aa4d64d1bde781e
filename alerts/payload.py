"""Alertmanager's webhook payload (version 4), tolerant of optional fields newer releases add.

A webhook body comes from the network: ``parse_notification`` turns every way it can be wrong
(not UTF-8, not JSON, nested without end, numbers of thousands of digits, strings that are not
Unicode, a wrong shape) into a ``PayloadError`` carrying the 4xx answer, never an exception that
would become a 500 and make Alertmanager retry forever. Its ``repo`` label names a repository
only when it follows GitHub's naming rules (``repository``), since it becomes part of API URLs.
"""

import json
import re
import sys
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

# Alertmanager's payload is four levels deep; fields added by newer releases get some room.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
# GitHub's rules: an owner (user or organisation) has 1-39 letters, digits and single inner
# hyphens; a repository name up to 100 letters, digits, '.', '_' and '-', but not '.' or '..'.
_REPOSITORY = re.compile(
    r"(?:(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/)?"
    r"(?P<name>[A-Za-z0-9._-]{1,100})"
)


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""


class Notification(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str = Field(pattern="^4$")
    groupKey: str = Field(min_length=1)
    status: str = Field(pattern="^(firing|resolved)$")
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)
    truncatedAlerts: int = 0


class PayloadError(Exception):
    """A webhook body that is refused; ``status`` is the HTTP answer."""

    status = 400

    def __init__(self, message: str, problems: list[str] | None = None):
        self.message = message
        self.problems = problems or []
        super().__init__("; ".join([message, *self.problems]))

    def answer(self) -> dict[str, Any]:
        """The JSON answer: the message, and one line per problem when there are several."""
        return {"error": self.message} | ({"problems": self.problems} if self.problems else {})


def parse_notification(raw: bytes) -> Notification:
    """The notification in a webhook body, or a ``PayloadError`` saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(
            f"body is not UTF-8: byte {raw[error.start]:#04x} at offset {error.start}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadError(f"invalid JSON: {error}") from None
    except RecursionError:
        raise PayloadError(f"invalid JSON: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # the only other one: an integer beyond Python's digit limit
        raise PayloadError(
            f"invalid JSON: a number has more than {sys.get_int_max_str_digits()} digits"
        ) from None
    problem = next(_unusable_values(data), None)
    if problem is not None:
        raise PayloadError(f"invalid payload: {problem}")
    try:
        return Notification.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in error.errors()
        ]
        raise PayloadError("invalid payload", problems) from None


def _unusable_values(data: Any) -> Iterator[str]:
    """What JSON allows but no later step can handle: nesting beyond ``MAX_DEPTH`` and strings
    with lone surrogates (``"\\ud800"``), which cannot be encoded or hashed."""
    pending: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while pending:
        value, path = pending.pop()
        if len(path) > MAX_DEPTH:
            yield f"{'.'.join(path[:MAX_DEPTH])}: nested deeper than {MAX_DEPTH} levels"
        elif isinstance(value, str) and _SURROGATE.search(value):
            yield f"{'.'.join(path) or 'payload'}: not valid Unicode (a lone surrogate)"
        elif isinstance(value, dict):
            if any(_SURROGATE.search(key) for key in value):
                yield f"{'.'.join(path) or 'payload'}: a key is not valid Unicode"
            pending.extend((item, (*path, key)) for key, item in reversed(value.items()))
        elif isinstance(value, list):  # reversed: the first problem in reading order is named
            pending.extend((item, (*path, str(n))) for n, item in reversed(list(enumerate(value))))


def repository(label: str, default_owner: str) -> str | None:
    """``owner/name`` named by a ``repo`` label (a bare ``name`` belongs to ``default_owner``),
    or None when the label is not a GitHub repository name: it is never used in a URL then."""
    match = _REPOSITORY.fullmatch(label)
    if match is None or match["name"] in (".", ".."):
        return None
    return f"{match['owner'] or default_owner}/{match['name']}"


def _owner_and_name(value: str) -> str:
    if "/" not in value or repository(value, "") != value:
        raise ValueError(
            "expected owner/name of a GitHub repository (owner: 1-39 letters, digits and single "
            "inner hyphens; name: up to 100 letters, digits, '.', '_' and '-')"
        )
    return value


GitHubRepository = Annotated[str, AfterValidator(_owner_and_name)]
