"""The options as pytest sees them: flags, ini settings and their help, read into ``Settings``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_xares.errors import UsageError
from pytest_xares.settings import OPTIONS, Settings, from_environment, resolve


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("xares", "X-ARES audio encoder benchmark")
    for option in OPTIONS:
        if option.flag:
            group.addoption(
                f"--xares-{option.name}", dest=option.dest, action="store_const", const="1", help=option.help
            )
        else:
            group.addoption(f"--xares-{option.name}", dest=option.dest, metavar=option.metavar, help=option.help)
        parser.addini(option.dest, option.help, default=None)


def settings_from(config: pytest.Config) -> Settings:
    """Every option read once: command line, then ``XARES_*`` environment, then ini, then default;
    relative paths are taken from where pytest was invoked. A bad value is a usage error."""
    command_line = {option.attribute: config.getoption(option.dest) for option in OPTIONS}
    ini = {option.attribute: config.getini(option.dest) for option in OPTIONS}
    try:
        return resolve(command_line, from_environment(os.environ), ini, base=Path(config.invocation_params.dir))
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None
