"""Merge results files of several runs into one table with the weighted averages.

    xares-merge job-*.json --json merged.json --markdown merged.md

Runs of one encoder (per-task cluster jobs sharing a cache, say) become one report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pytest_xares.errors import XaresError
from pytest_xares.files import write_atomic
from pytest_xares.results.scores import Results


class ResultsFileError(XaresError):
    """A results file that cannot be read, or results files that do not merge; the message names them."""


def read_results(path: Path) -> Results:
    """The results in a file that ``--xares-json`` wrote; ``ResultsFileError`` naming it otherwise."""
    try:
        document = json.loads(path.read_text("utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"a JSON {type(document).__name__}, not a results file")
        return Results.from_dict(document)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ResultsFileError(f"{path} is not a readable results file ({type(error).__name__}: {error})") from None


def merged_results(paths: list[Path]) -> Results:
    """The results of several files of one encoder as one run (see ``Results.merge``)."""
    parts = {str(path): read_results(path) for path in paths}
    if len(parts) == 1:
        return next(iter(parts.values()))
    try:
        return Results.merge(parts)
    except ValueError as error:
        raise ResultsFileError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xares-merge", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="results files written by --xares-json")
    parser.add_argument("--json", type=Path, help="write the merged results here")
    parser.add_argument("--markdown", type=Path, help="write a Markdown report here")
    args = parser.parse_args(argv)
    try:
        merged = Results.merge({str(path): read_results(path) for path in args.files})
    except (ValueError, XaresError) as error:
        print(f"cannot merge: {error}", file=sys.stderr)
        return 2
    print(merged)
    if args.json:
        merged.to_json(args.json)
    if args.markdown:
        write_atomic(args.markdown, merged.to_markdown(), option="--markdown")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
