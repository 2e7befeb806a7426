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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xares-merge", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="results files written by --xares-json")
    parser.add_argument("--json", type=Path, help="write the merged results here")
    parser.add_argument("--markdown", type=Path, help="write a Markdown report here")
    args = parser.parse_args(argv)
    parts = {}
    for path in args.files:
        try:
            document = json.loads(path.read_text("utf-8"))
            if not isinstance(document, dict):
                raise ValueError(f"a JSON {type(document).__name__}, not a results file")
            parts[str(path)] = Results.from_dict(document)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
            print(
                f"cannot merge: {path} is not a readable results file ({type(error).__name__}: {error})",
                file=sys.stderr,
            )
            return 2
    try:
        merged = Results.merge(parts)
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
