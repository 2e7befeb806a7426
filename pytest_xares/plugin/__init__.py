"""pytest hooks of pytest-xares (the ``pytest11`` entry point). The plugin is inert unless an
encoder is given (or a data-only run: ``--xares-download-only``, ``--xares-verify-data``).

The run's state is one ``XaresSession`` (``plugin.session``); the suite's nodes are in
``plugin.items``; the built-in output formats in ``plugin.outputs`` implement the
``pytest_xares_results`` hook of ``plugin.hookspec``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable

import pytest

from pytest_xares.errors import NotRun, XaresError
from pytest_xares.plugin import hookspec
from pytest_xares.plugin.options import add_options, settings_from
from pytest_xares.plugin.session import XaresSession, session_key, session_of
from pytest_xares.results.baseline import Baseline
from pytest_xares.task.registry import load_tasks

MARKERS = {
    "xares": "an item of the X-ARES suite (encoder check or task evaluation)",
    "xares_check": "an encoder interface check of the X-ARES suite",
    "mlp": "X-ARES task evaluated with its trained head (the MLP column)",
    "knn": "X-ARES task evaluated with kNN",
    "xares_data": "an X-ARES task's data download or verification (--xares-download-only, --xares-verify-data)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--xares-list``: print the suite's tasks (``-k`` selects by name) and stop, as ``--markers`` does."""
    if not config.getoption("xares_list"):
        return None
    from pytest_xares.cli.main import list_tasks

    try:
        return list_tasks(settings_from(config), config.getoption("keyword"), config.getoption("verbose") > 0)
    except XaresError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_configure(config: pytest.Config) -> None:
    settings = settings_from(config)
    if not settings.active:
        return
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    try:
        tasks = load_tasks(settings.suite, settings.tasks_dir)
        baseline = (
            None
            if settings.baseline is None
            else Baseline.load(
                settings.baseline, settings.tolerance, missing_ok=settings.update_baseline, seeds=settings.seeds
            )
        )
    except XaresError as error:
        raise pytest.UsageError(str(error)) from None
    session = XaresSession(config, settings, tasks, baseline)
    config.stash[session_key] = session
    config.pluginmanager.register(session, "xares-session")
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = []  # no paths given: run the suite only, not the tests around it
    if _is_xdist_controller(config) and config.getoption("dist", "no") == "load" and not _dist_chosen(config):
        from pytest_xares.plugin.scheduling import TaskGrouping

        config.pluginmanager.register(TaskGrouping(), "xares-scheduling")  # a task's items on one worker
    if session.is_worker:
        from pytest_xares.engine.runtime import share_cores

        share_cores()
    else:
        from pytest_xares.plugin.capture import FOLLOW, FollowRun
        from pytest_xares.plugin.outputs import BUILTIN

        config.pluginmanager.register(FollowRun(config, session), FOLLOW)  # the plan, progress, time left
        for name, output in BUILTIN.items():
            config.pluginmanager.register(output, name)


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def _dist_chosen(config: pytest.Config) -> bool:
    """Whether the user chose a ``--dist`` mode: on the command line, in ``PYTEST_ADDOPTS`` or in ini ``addopts``."""
    args = [
        *config.invocation_params.args,
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
        *config.getini("addopts"),
    ]
    return any(arg == "--dist" or arg.startswith("--dist=") or arg == "-d" for arg in args)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the suite's items first; ``-k`` and ``-m`` deselect among them afterwards."""
    if session_key not in config.stash:
        return
    from pytest_xares.plugin.items import XaresSuite

    state = session_of(config)
    mode = "estimate" if state.settings.estimate else state.settings.data_mode
    suite = XaresSuite.from_parent(session, name="xares", nodeid="xares", tasks=state.tasks, mode=mode)
    # genitems reports the nodes as collected, so counts, --co and xdist's collection see them.
    items[:0] = list(session.genitems(suite))


@pytest.fixture
def xares_score(request: pytest.FixtureRequest) -> Callable[..., float]:
    """``xares_score(task, method="mlp")``: the encoder's score on a task, for your own gates.

    Evaluates on demand, or reads the content-keyed cache when the suite (or another worker)
    already did, so it works in any order and under ``-n``; skips, as the task's item would, when
    the task cannot run here::

        def test_esc50_is_good_enough(xares_score):
            assert xares_score("esc50", "mlp") > 0.8
    """
    config = request.config
    if session_key not in config.stash or session_of(config).settings.encoder is None:
        pytest.skip("xares_score needs an encoder: run with --xares-encoder=SPEC")
    state = session_of(config)
    tasks = {t.name: t for t in state.tasks}

    def score(task: str, method: str = "mlp") -> float:
        from pytest_xares.engine.policy import run_item

        if task not in tasks:
            raise KeyError(f"no task {task!r} in this suite; known: {', '.join(tasks)}")
        try:
            return run_item(state.runtime(), tasks[task], method).score
        except NotRun as reason:
            pytest.skip(str(reason))

    return score
