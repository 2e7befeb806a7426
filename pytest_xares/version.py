"""The installed version of pytest-xares."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pytest-xares")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
