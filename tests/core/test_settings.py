import argparse
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from thoth_monitoring.core.config import ConfigError
from thoth_monitoring.core.settings import add_command, load_settings, setting


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listen: str = "0.0.0.0:1"
    interval: int = 60
    log_format: str = "keyvalue"


def parse(*argv: str) -> argparse.Namespace:
    commands = argparse.ArgumentParser().add_subparsers()
    command = add_command(commands, "thing")
    setting(command, "--listen")
    setting(command, "--interval", type=int)
    command.add_argument("--once", action="store_true")  # an action, not a setting
    return command.parse_args(argv)


def test_flags_override_the_file_and_only_declared_settings_reach_the_model(
    tmp_path: Path,
) -> None:
    config = tmp_path / "thing.yaml"
    config.write_text("listen: 127.0.0.1:2\ninterval: 5\n")
    settings = load_settings(Settings, parse("--config", str(config), "--interval", "7", "--once"))
    assert settings == Settings(listen="127.0.0.1:2", interval=7)


def test_a_bad_value_is_located_in_its_file(tmp_path: Path) -> None:
    config = tmp_path / "thing.yaml"
    config.write_text("interval: often\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(Settings, parse("--config", str(config)))
    assert str(caught.value).startswith(f"{config}: interval: ")
