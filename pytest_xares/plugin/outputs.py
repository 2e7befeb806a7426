"""The built-in output formats, each an implementation of the ``pytest_xares_results`` hook; and
the items' properties as JSON in pytest's junit-xml report (``--junitxml``).

A format that fails (a full disk, a directory where a file belongs) says so in the summary and
never stops the others."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

from pytest_xares.errors import XaresError
from pytest_xares.outputs.junit import as_junit
from pytest_xares.outputs.markdown import write_markdown
from pytest_xares.plugin.session import session_of
from pytest_xares.results.baseline import update_baseline
from pytest_xares.results.scores import Results


def _guarded(what: str, write: Callable[[], str | None]) -> str | None:
    try:
        return write()
    except (XaresError, OSError) as error:
        return f"{what} not written: {error}"


class JsonOutput:
    @pytest.hookimpl
    def pytest_xares_results(self, config: pytest.Config, results: Results) -> str | None:
        path = session_of(config).settings_of(results).json
        if path is None:
            return None

        def write() -> str:
            results.to_json(path)
            return f"results written to {path}"

        return _guarded("results file", write)


class MarkdownOutput:
    @pytest.hookimpl
    def pytest_xares_results(self, config: pytest.Config, results: Results) -> str | None:
        session = session_of(config)
        settings = session.settings_of(results)
        return _guarded(
            "Markdown report",
            lambda: (
                "\n".join(write_markdown(results, settings.markdown, session.baseline, suite=settings.suite)) or None
            ),
        )


class PlotOutput:
    @pytest.hookimpl
    def pytest_xares_results(self, config: pytest.Config, results: Results) -> str | None:
        session = session_of(config)
        path = session.settings_of(results).plot
        if path is None or not results.results:
            return None

        def draw() -> str:
            try:
                from pytest_xares.outputs.plot import plot_scores
            except ImportError as error:
                return f"no plot: {error}; install the plotting extra: pip install 'pytest-xares[plot]'"
            written = plot_scores(results, path, session.baseline)
            return f"plot written to {' and '.join(map(str, written))}"

        return _guarded("plot", draw)


class BaselineOutput:
    @pytest.hookimpl
    def pytest_xares_results(self, config: pytest.Config, results: Results) -> str | None:
        s = session_of(config).settings
        if not s.update_baseline or s.baseline is None or not results.results:
            return None
        baseline = s.baseline

        def update() -> str:
            spreads = {
                (r.task, r.method): (r.seed_std, len(r.seed_scores)) for r in results.results if r.seed_std is not None
            }
            layers = {(r.task, r.method): r.layers["selection"] for r in results.results if r.layers}
            scores = {(r.task, r.method): r.score for r in results.results}
            update_baseline(baseline, scores, s.tolerance, spreads, layers)
            return f"baseline updated: {len(results.results)} scores merged into {baseline}"

        return _guarded("baseline", update)


class JunitProperties:
    """Under ``--junitxml``: the items' properties written as JSON, not as Python reprs. pytest's
    junit-xml writer takes an item's properties from its teardown report, which nothing else here
    reads them from (the run's results come from the call's)."""

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, None, None]:
        if report.when == "teardown" and report.user_properties:
            report.user_properties = as_junit(report.user_properties)
        return (yield)


BUILTIN: dict[str, Any] = {
    "xares-json": JsonOutput(),
    "xares-markdown": MarkdownOutput(),
    "xares-plot": PlotOutput(),
    "xares-baseline": BaselineOutput(),
    "xares-junit": JunitProperties(),
}
