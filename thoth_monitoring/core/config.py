"""Configuration loading shared by every command: YAML files with ``${VAR}`` expansion,
pydantic validation, and one error type that names the file, the field and the problem."""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_QUOTED = re.compile(r"""'(?:[^']|'')*'|"(?:[^"\\]|\\.)*\"""")  # YAML's quoted scalars
_COMMENT = re.compile(r"(?:^|[ \t])#")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(Exception):
    """Invalid configuration; ``problems`` holds one ``(location, message)`` pair per problem."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(
            f"{self.source}: {location}: {message}" if location else f"{self.source}: {message}"
            for location, message in self.problems
        )


def parse_duration(value: object, allow_zero: bool = False) -> float:
    """Seconds from ``30``, ``"30s"``, ``"5m"``, ``"1.5h"``, ``"250ms"`` or ``"7d"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 30s, 5m or 1h")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be greater than zero")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
NonNegativeDuration = Annotated[
    float, BeforeValidator(lambda value: parse_duration(value, allow_zero=True))
]


def load_yaml(path: Path, environ: Mapping[str, str] | None = None) -> Any:
    """Parse ``path`` after replacing every ``${VAR}`` with the environment's value."""
    documents = load_yaml_documents(path, environ)
    if len(documents) > 1:
        raise ConfigError(str(path), [("", "expected one YAML document, found several")])
    return documents[0] if documents else None


def load_yaml_documents(path: Path, environ: Mapping[str, str] | None = None) -> list[Any]:
    """Every document of a multi-document YAML file, ``${VAR}`` expanded."""
    environ = os.environ if environ is None else environ
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(str(path), [("", f"cannot read: {error.strerror}")]) from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        where = f"line {line}, column {column}"
        problem = f"not UTF-8 text (byte 0x{raw[error.start]:02x}); save the file as UTF-8"
        raise ConfigError(str(path), [(where, problem)]) from None
    problems: list[tuple[str, str]] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            start = text.rfind("\n", 0, match.start()) + 1
            if _in_comment(text[start : match.start()]):
                return match.group(0)  # a comment that names a variable is no error
            line = text.count("\n", 0, match.start()) + 1
            problems.append((f"line {line}", f"environment variable {name} is not set"))
            return ""
        return environ[name]

    expanded = _VARIABLE.sub(substitute, text)
    if problems:
        raise ConfigError(str(path), problems)
    try:
        documents = yaml.load_all(expanded, Loader=_UniqueKeyLoader)
        return [document for document in documents if document is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(str(path), [(where, f"invalid YAML: {problem}")]) from error


def _in_comment(before: str) -> bool:
    """Whether a line's text ``before`` some point has opened a YAML comment: a ``#`` at the
    start or after a blank, outside quotes. When unsure (a quote left open, an apostrophe in a
    plain value) it answers no, so an unset variable is still reported."""
    plain = _QUOTED.sub("q", before)
    comment = _COMMENT.search(plain)
    return comment is not None and not any(quote in plain[: comment.start()] for quote in "'\"")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key repeated in one mapping (by default the last one
    silently wins, so a typo'd copy-paste would override a setting unnoticed)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[object, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # a merge (<<) may be overridden by design; non-scalar keys are PyYAML's
            key = self.construct_object(key_node)
            if key in first_lines:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first at line {first_lines[key]})",
                    key_node.start_mark,
                )  # fmt: skip
            first_lines[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def validate(model: type[Model], data: Any, source: str, prefix: str = "") -> Model:
    """Build ``model`` from ``data``; every pydantic error becomes one located problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, [_located(prefix, item) for item in error.errors()]) from None


def _located(prefix: str, item: Any) -> tuple[str, str]:
    path = ".".join(str(part) for part in item["loc"])
    location = ".".join(part for part in (prefix, path) if part)
    message = str(item["msg"]).removeprefix("Value error, ")
    return location, message
