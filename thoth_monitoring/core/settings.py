"""Settings of every command from one merge: the ``--config`` YAML file (``${VAR}`` expanded
from the environment), overlaid with the flags given, validated with located errors.

A component declares its options with ``setting()``; those (and only those) are keys of its
settings model, so the config file and the flags always mean the same thing.
"""

import argparse
import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from thoth_monitoring.core.config import ConfigError, load_yaml, validate
from thoth_monitoring.core.logs import LogFormat, setup_logging


class CommandSettings(BaseModel):
    """What the settings of every configurable command share: an unknown key is an error, and
    the log style."""

    model_config = ConfigDict(extra="forbid")

    log_format: LogFormat = "keyvalue"


Model = TypeVar("Model", bound=BaseModel)
Command = TypeVar("Command", bound=CommandSettings)

_SETTINGS = "_setting_names"  # the parser default holding the names declared with setting()


def add_command(commands: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand with the options every configurable command shares."""
    command: argparse.ArgumentParser = commands.add_parser(name, **kwargs)
    command.set_defaults(**{_SETTINGS: set()})
    command.add_argument("--config", type=Path, help="YAML file with any of the options below")
    command.add_argument(
        "--check-config", action="store_true", help="validate the configuration and exit"
    )
    setting(command, "--log-format", choices=["keyvalue", "json"], help="log style")
    command.add_argument("--log-level", default="INFO", help="log level (default: INFO)")
    return command


def setting(command: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> argparse.Action:
    """An option that is also a config-file key; absent unless given, so the file shows through."""
    action = command.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)
    command.get_default(_SETTINGS).add(action.dest)
    return action


def load_settings(model: type[Model], args: argparse.Namespace) -> Model:
    """Config file values overlaid with the flags given; validated with located errors."""
    data: dict[str, Any] = {}
    source = "command line"
    if args.config is not None:
        loaded = load_yaml(args.config)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(str(args.config), [("", "expected a mapping of option: value")])
        data.update(loaded or {})
        source = str(args.config)
    names = getattr(args, _SETTINGS)
    data.update({key: value for key, value in vars(args).items() if key in names})
    return validate(model, data, source)


def configure(model: type[Command], args: argparse.Namespace) -> Command:
    """The command's settings (see ``load_settings``), with logging set up as they say."""
    settings = load_settings(model, args)
    setup_logging(settings.log_format, args.log_level)
    return settings


def config_valid(summary: str) -> int:
    """What ``--check-config`` prints when the configuration holds; exit status 0."""
    print(f"configuration is valid: {summary}")
    return 0


def usage_error(command: str, message: str) -> int:
    """A usage problem, one line on stderr; exit status 2."""
    print(f"{command}: {message}", file=sys.stderr)
    return 2
