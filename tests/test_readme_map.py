"""The README's map of the code ("How the code is laid out") matches the folders."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _map_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([^`]+)`[^|]*\| (.*) \|$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_package_of_the_tree_is_on_the_map() -> None:
    rows = _map_rows()
    packages = {f"pytest_xares/{p.parent.name}/" for p in (ROOT / "pytest_xares").glob("*/__init__.py")}
    packages -= {"pytest_xares/resources/", "pytest_xares/testing/"}  # data files; named in the last row
    assert packages <= set(rows), f"missing from the README's map: {sorted(packages - set(rows))}"
    assert {"tasks/", "example_encoders/"} <= set(rows)


def test_every_module_the_map_names_exists_and_every_module_is_named() -> None:
    rows = _map_rows()
    for folder, description in rows.items():
        if not folder.startswith("pytest_xares/") or folder == "pytest_xares/":
            continue
        named = set(re.findall(r"`(\w+)(?:\.py)?`", description))
        modules = {p.stem for p in (ROOT / folder).glob("*.py")} - {"__init__"}
        assert modules <= named | {"__init__"}, f"{folder}: not on the map: {sorted(modules - named)}"
        for path in re.findall(r"`([\w/]+\.py)`", description):
            assert (ROOT / folder / path).exists(), f"{folder}{path} is on the map but not in the tree"
    top = rows["pytest_xares/"]
    for module in (p.stem for p in (ROOT / "pytest_xares").glob("*.py") if p.stem not in ("__init__", "version")):
        assert f"`{module}.py`" in top, f"pytest_xares/{module}.py is not on the map"
