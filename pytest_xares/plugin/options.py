"""The options as pytest sees them: flags, ini settings and their help, read into ``Settings``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_xares.errors import UsageError
from pytest_xares.settings import OPTIONS, Option, Settings, from_environment, resolve


def help_text(option: Option) -> str:
    """The option's help, then its default (where it has one) and its environment variable:
    ``… [default: 42; env XARES_SEED]``."""
    default = option.default()
    if isinstance(default, bool):
        shown: str | None = "on" if default else "off"
    else:
        shown = None if default in (None, "", {}, []) else str(default)
    where = f"default: {shown}; env {option.env}" if shown is not None else f"env {option.env}"
    return f"{option.help} [{where.replace('%', '%%')}]"  # argparse formats help with %


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("xares", "X-ARES audio encoder benchmark")
    for option in OPTIONS:
        text = help_text(option)
        if option.flag:
            group.addoption(f"--xares-{option.name}", dest=option.dest, action="store_const", const="1", help=text)
        else:
            action = "append" if option.repeat else "store"
            group.addoption(
                f"--xares-{option.name}", dest=option.dest, action=action, metavar=option.metavar, help=text
            )
        if option.repeat:
            parser.addini(option.dest, text, type="linelist", default=None)
        else:
            parser.addini(option.dest, text, default=None)
    # A command rather than a setting of a run (as --markers is): no ini setting, no environment variable.
    group.addoption(
        "--xares-list",
        action="store_true",
        dest="xares_list",
        help="list the suite's tasks (kind, metric, weight, data, published scores) and stop; -k selects by task "
        "name, -v adds each task's details",
    )


def settings_from(config: pytest.Config) -> Settings:
    """Every option read once: command line, then ``XARES_*`` environment, then ini, then default;
    relative paths are taken from where pytest was invoked. A bad value is a usage error."""
    command_line = {option.attribute: config.getoption(option.dest) for option in OPTIONS}
    ini = {option.attribute: config.getini(option.dest) for option in OPTIONS}
    try:
        return resolve(command_line, from_environment(os.environ), ini, base=Path(config.invocation_params.dir))
    except UsageError as error:
        raise pytest.UsageError(str(error)) from None
