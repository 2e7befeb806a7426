"""Merge results files of several runs into one table with the weighted averages.

    python -m pytest_xares.merge job-*.json --json merged.json --markdown merged.md

Runs of one encoder (per-task cluster jobs sharing a cache, say) become one report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pytest_xares.results import Results, write_text_atomic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_xares.merge", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="results files written by --xares-json")
    parser.add_argument("--json", type=Path, help="write the merged results here")
    parser.add_argument("--markdown", type=Path, help="write a Markdown report here")
    args = parser.parse_args(argv)
    try:
        documents = [json.loads(path.read_text("utf-8")) for path in args.files]
        merged = Results.merge(documents)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"cannot merge: {error}", file=sys.stderr)
        return 2
    print(merged)
    if args.json:
        merged.to_json(args.json)
    if args.markdown:
        write_text_atomic(args.markdown, merged.to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
