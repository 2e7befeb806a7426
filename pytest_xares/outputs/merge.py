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
    try:
        documents = [json.loads(path.read_text("utf-8")) for path in args.files]
        merged = Results.merge(documents)
    except (OSError, ValueError, KeyError, TypeError, XaresError) as error:
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
