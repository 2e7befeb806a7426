"""The package's layout as a user relies on it: the installed names, no import cycle, small modules."""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_xares.task.registry import load_tasks

SOURCE = Path(__file__).resolve().parents[1]

#: What the wheel is not built from: the checkout's own state, caches and the tests.
NOT_DISTRIBUTED = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "benchmarks")

#: The folders of the package's modules in the checkout: its own and the two mapped into it.
FOLDERS = ("pytest_xares", "tasks", "example_encoders")

LONGEST_MODULE = 460


def test_the_installed_names_resolve() -> None:
    esc50 = importlib.import_module("pytest_xares.tasks.esc50")
    count = importlib.import_module("pytest_xares.tasks.demo.count")
    mel = importlib.import_module("pytest_xares.example_encoders.mel")
    assert esc50.TASK.name == "esc50"
    assert count.TASK.name == "demo_count"
    assert hasattr(mel, "MelEncoder")
    assert len(load_tasks("xares")) == 28


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the package as ``pip install`` of its wheel leaves it (built offline from a
    copy of the tree, so the build leaves nothing in the checkout)."""
    pytest.importorskip("setuptools", reason="building the wheel offline (no build isolation) needs setuptools")
    pytest.importorskip("pip", reason="building and installing the wheel needs pip")
    root = tmp_path_factory.mktemp("installed")
    tree = root / "tree"
    shutil.copytree(SOURCE, tree, ignore=shutil.ignore_patterns(*NOT_DISTRIBUTED))
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "wheel"), str(tree)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (root / "wheel").glob("pytest_xares-*.whl")
    site = root / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    return site


#: Run from an empty folder with only the installed copy prepended to the path (torch and the
#: other dependencies still come from this environment's site-packages).
FROM_THE_INSTALLED_COPY = """
import sys
from pathlib import Path

site = Path(sys.argv[1]).resolve()
for name in ("tasks", "example_encoders"):
    try:
        __import__(name)
    except ModuleNotFoundError as error:
        assert error.name == name, error
    else:
        raise AssertionError(f"`import {name}` works: the wheel installs a top-level {name!r}")

import pytest_xares
import pytest_xares.tasks.esc50
import pytest_xares.tasks.demo
import pytest_xares.tasks.demo.count
import pytest_xares.example_encoders.mel
from pytest_xares.task.registry import load_tasks

modules = [
    pytest_xares,
    pytest_xares.tasks.esc50,
    pytest_xares.tasks.demo,
    pytest_xares.tasks.demo.count,
    pytest_xares.example_encoders.mel,
]
for module in modules:
    assert site in Path(module.__file__).resolve().parents, (module.__name__, module.__file__)
assert len(load_tasks("xares")) == 28, len(load_tasks("xares"))
assert len(load_tasks("demo")) == 7, len(load_tasks("demo"))
print("ok")
"""


def test_an_installed_copy_has_the_tasks_and_encoders_under_its_own_name(installed: Path, tmp_path: Path) -> None:
    assert not (installed / "tasks").exists() and not (installed / "example_encoders").exists()
    isolation = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]  # -P: not the current folder either
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("PYTHONSAFEPATH", None)
    run = subprocess.run(
        [sys.executable, *isolation, "-c", textwrap.dedent(FROM_THE_INSTALLED_COPY), str(installed)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr


def _cycles(graph) -> list[list[str]]:  # graph: grimp.ImportGraph
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            for other in imported:
                if other not in index:
                    index[other] = low[other] = len(index)
                    stack.append(other)
                    on_stack.add(other)
                    work.append((other, iter(sorted(graph.find_modules_directly_imported_by(other)))))
                    break
                if other in on_stack:
                    low[module] = min(low[module], index[other])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def _a_cycle_through(graph, component: list[str]) -> str:
    """One cycle within ``component``, with the import lines that make it."""
    first = component[0]
    second = next(m for m in sorted(graph.find_modules_directly_imported_by(first)) if m in component)
    chain = [first, *graph.find_shortest_chain(importer=second, imported=first)]
    lines = []
    for importer, imported in itertools.pairwise(chain):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = f" (line {details[0]['line_number']}: {details[0]['line_contents']})" if details else ""
        lines.append(f"{importer} -> {imported}{where}")
    return "\n  ".join(lines)


def test_no_import_cycle_among_the_modules() -> None:
    grimp = pytest.importorskip("grimp")
    # cache_dir=None: grimp would otherwise write a .grimp_cache into the current folder.
    graph = grimp.build_graph("pytest_xares", exclude_type_checking_imports=True, cache_dir=None)
    assert "pytest_xares.engine.runtime" in graph.modules  # the graph is the package's
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(
        f"- among {', '.join(c)}:\n  {_a_cycle_through(graph, c)}" for c in cycles
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    class Graph:
        def __init__(self, edges: dict[str, set[str]]) -> None:
            self.edges = edges
            self.modules = set(edges)

        def find_modules_directly_imported_by(self, module: str) -> set[str]:
            return self.edges[module]

    assert _cycles(Graph({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()})) == [["a", "b", "c"]]
    assert _cycles(Graph({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"d"}})) == []


def _modules() -> dict[str, int]:
    """Every module file of the package in the checkout, by path, with its number of lines."""
    files = {path for folder in FOLDERS for path in (SOURCE / folder).rglob("*.py") if "__pycache__" not in path.parts}
    return {
        path.relative_to(SOURCE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(files)
    }


def test_every_module_is_small() -> None:
    lengths = _modules()
    assert len(lengths) > 70 and "tasks/esc50.py" in lengths and "pytest_xares/engine/runtime.py" in lengths
    longest = max(lengths, key=lengths.__getitem__)
    too_long = {path: n for path, n in lengths.items() if n > LONGEST_MODULE}
    assert not too_long, f"modules over {LONGEST_MODULE} lines: {too_long} (longest: {longest}, {lengths[longest]})"
