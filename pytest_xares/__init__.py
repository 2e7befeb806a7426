"""pytest-xares: the X-ARES audio encoder benchmark as a pytest plugin, and from Python.

>>> import pytest_xares
>>> report = pytest_xares.check_encoder("my_encoder.py")                   # doctest: +SKIP
>>> results = pytest_xares.evaluate("my_encoder.py", tasks=["esc50"])      # doctest: +SKIP
"""

from typing import Any

from pytest_xares.version import __version__


def __getattr__(name: str) -> Any:  # the API imports torch: only on first use, never for `import pytest_xares`
    if name in ("check_encoder", "evaluate", "CheckReport", "EncoderCheckError"):
        from pytest_xares import api

        return getattr(api, name)
    if name == "Results":
        from pytest_xares.results.scores import Results

        return Results
    raise AttributeError(name)


__all__ = ["CheckReport", "EncoderCheckError", "Results", "__version__", "check_encoder", "evaluate"]
