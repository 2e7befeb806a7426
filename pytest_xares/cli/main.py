"""``xares compare``, ``xares tasks`` and ``xares cache``: the researcher's commands around a run.

    xares compare a.json b.json                    # two encoders, paired intervals of the differences
    xares compare a1.json+a2.json b.json           # files joined by + are one encoder's (merged first)
    xares tasks -k "esc50 or cremad"               # the tasks, their data and the published scores
    xares cache                                    # the cache's size per encoder and task
    xares cache prune --before 2025-01-01 --yes    # remove what no run used since then

Errors (a file that is not a results file, results whose test clips differ, an unknown option
value) are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_xares.errors import UsageError, XaresError
from pytest_xares.outputs.merge import merged_results
from pytest_xares.settings import SUITES, Settings
from pytest_xares.task import Task

#: Files joined by this are the results of one encoder (``-k`` slices, cluster jobs).
JOIN = "+"


def encoder_files(argument: str) -> list[Path]:
    """The files of one encoder: ``a.json`` or ``a1.json+a2.json`` (a file whose own name holds
    a ``+`` is taken whole)."""
    if Path(argument).is_file() or JOIN not in argument:
        return [Path(argument)]
    return [Path(part) for part in argument.split(JOIN) if part]


def _compare(args: argparse.Namespace) -> int:
    from pytest_xares.outputs.compare import Column, compare, plot, render, write_markdown

    columns = []
    for argument in args.results:
        paths = encoder_files(argument)
        results = merged_results(paths)
        columns.append(Column(results.name or JOIN.join(p.stem for p in paths), results, tuple(map(str, paths))))
    labels = [c.label for c in columns]
    for k, column in enumerate(columns):  # two columns of one name get their position
        if labels.count(column.label) > 1:
            columns[k] = Column(f"{column.label} #{k + 1}", column.results, column.files)
    comparison = compare(columns, resamples=args.resamples, seed=args.seed)
    print(render(comparison))
    if args.markdown:
        write_markdown(comparison, args.markdown)
        print(f"Markdown written to {args.markdown}")
    if args.plot:
        plot(comparison, args.plot)
        print(f"plot written to {args.plot}")
    return 0


def matching(tasks: Sequence[Task], expression: str | None) -> list[Task]:
    """The tasks whose name ``expression`` selects, as pytest's ``-k`` selects on names: words match
    case-insensitive substrings, joined by ``and``, ``or``, ``not`` and parentheses."""
    if not expression:
        return list(tasks)
    from _pytest.mark import expression as grammar  # pytest's own -k grammar

    malformed = getattr(grammar, "ParseError", SyntaxError)  # pytest 8 has its own error, pytest 9 SyntaxError
    try:
        compiled = grammar.Expression.compile(expression)
    except malformed as error:
        raise UsageError(f"-k {expression!r} is not a keyword expression: {error}") from None
    return [t for t in tasks if compiled.evaluate(_name_matcher(t.name))]


def _name_matcher(name: str) -> Callable[..., bool]:
    def matcher(word: str, /, **_: object) -> bool:
        return word.lower() in name.lower()

    return matcher


def list_tasks(settings: Settings, keyword: str | None, verbose: bool = False, as_json: bool = False) -> int:
    """Print the catalogue of the settings' suite (and tasks folder), selected by ``keyword``."""
    from pytest_xares.outputs.catalogue import describe, render, to_dict
    from pytest_xares.task.registry import load_tasks

    tasks = matching(load_tasks(settings.suite, settings.tasks_dir), keyword)
    if not tasks:
        raise UsageError(f"-k {keyword!r} selects none of the {settings.suite} suite's tasks")
    rows = describe(tasks, settings.data_dir, settings.cache_dir)
    print(json.dumps([to_dict(r) for r in rows], indent=1) if as_json else render(rows, verbose))
    return 0


def _tasks(args: argparse.Namespace) -> int:
    settings = Settings.with_defaults(
        suite=args.suite, data_dir=args.data_dir, cache_dir=args.cache_dir, tasks_dir=args.tasks_dir
    )
    return list_tasks(settings, args.keyword, args.verbose, args.json)


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-06-30") from None


def _cache(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from pytest_xares.cache import housekeeping
    from pytest_xares.cache.store import Cache
    from pytest_xares.data.transfer import human_bytes

    cache = Cache(Settings.with_defaults(cache_dir=args.cache_dir).cache_dir)
    if not cache.root.is_dir():
        raise UsageError(f"no cache at {cache.root} (--cache-dir, XARES_CACHE_DIR)")
    found = housekeeping.holdings(cache)
    headers = ["encoder", "spec", "protocol", "last used", "task", "files", "size"]
    if args.action is None:
        total = sum(h.size for h in found)
        print(f"cache {cache.root}: {human_bytes(total)} in {sum(len(h.files) for h in found)} files")
        print(tabulate(housekeeping.summary(cache, found), headers=headers, tablefmt="simple", disable_numparse=True))
        return 0
    if args.before is None and args.encoder is None and args.protocol is None:
        raise UsageError("cache prune needs --before DATE, --encoder FINGERPRINT or --protocol VERSION")
    chosen = housekeeping.select(found, args.before, args.encoder, args.protocol)
    size = human_bytes(sum(h.size for h in chosen))
    if not chosen:
        print("nothing to remove")
        return 0
    print(tabulate(housekeeping.summary(cache, chosen), headers=headers, tablefmt="simple", disable_numparse=True))
    if not args.yes:
        print(
            f"would remove {sum(len(h.files) for h in chosen)} files ({size}); nothing removed: add --yes to remove them"
        )
        return 0
    freed = housekeeping.remove(cache, chosen)
    print(f"removed {sum(len(h.files) for h in chosen)} files ({human_bytes(freed)})")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="xares", description="The X-ARES benchmark around a run: compare results, list tasks, tidy the cache."
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compare = commands.add_parser(
        "compare",
        help="results of several encoders side by side, with paired bootstrap intervals of the differences",
        description="Scores of several encoders side by side: a column per encoder, each one's difference to "
        "the first with a 95 % paired bootstrap interval over the same test clips (a difference whose interval "
        "excludes 0 is marked *), and the weighted averages over the tasks that all of them ran.",
    )
    compare.add_argument(
        "results",
        nargs="+",
        metavar="RESULTS",
        help="a results file (--xares-json) per encoder, the first is the reference; several files of one "
        f"encoder joined by '{JOIN}' are merged first (a1.json{JOIN}a2.json)",
    )
    compare.add_argument("--markdown", type=Path, metavar="FILE", help="also write the comparison as Markdown")
    compare.add_argument("--plot", type=Path, metavar="FILE", help="also draw the differences into a PNG (matplotlib)")
    compare.add_argument("--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples (1000)")
    compare.add_argument("--seed", type=int, default=42, metavar="N", help="seed of the resampling (42)")
    compare.set_defaults(run=_compare)

    tasks = commands.add_parser(
        "tasks",
        help="the suite's tasks: kind, metric, weight, data size and presence, published scores",
        description="One row per task: name, domain, kind, metric, weight, clips and hours (once encoded), "
        "download size, whether its data is in the data folder, and dasheng's published MLP score; -v adds "
        "each task's description, reference, splits and every published baseline score.",
    )
    tasks.add_argument("-k", dest="keyword", metavar="EXPRESSION", help="select tasks by name, as pytest -k does")
    tasks.add_argument("--suite", choices=SUITES, help="the suite (default: xares, or XARES_SUITE)")
    tasks.add_argument("--tasks-dir", type=Path, metavar="DIR", help="also list your own task definitions")
    tasks.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="the data folder (default: XARES_DATA_DIR or ~/.cache/xares/data)"
    )
    _cache_dir_option(tasks)
    tasks.add_argument("-v", "--verbose", action="store_true", help="each task's details and every published score")
    tasks.add_argument("--json", action="store_true", help="the rows as JSON")
    tasks.set_defaults(run=_tasks)

    cache = commands.add_parser(
        "cache",
        help="the cache's size per encoder and task; 'cache prune' removes what no run used since a date",
        description="Without an action: the cache's size per encoder (fingerprint), protocol version and task, "
        "with the day each was last used. 'prune' selects the entries of encoders last used before --before, "
        "of --encoder (a fingerprint or its start) or of --protocol, lists them and removes them only with --yes.",
    )
    cache.add_argument("action", nargs="?", choices=["prune"], help="prune: remove the selected entries")
    _cache_dir_option(cache)
    cache.add_argument("--before", type=_date, metavar="DATE", help="entries last used before this day (2025-06-30)")
    cache.add_argument("--encoder", metavar="FINGERPRINT", help="entries of this encoder (its fingerprint or a prefix)")
    cache.add_argument("--protocol", metavar="VERSION", help="entries of this protocol version")
    cache.add_argument(
        "--yes", action="store_true", help="remove them (without it, prune only lists what it would remove)"
    )
    cache.set_defaults(run=_cache)
    return top


def _cache_dir_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--cache-dir", type=Path, metavar="DIR", help="the cache (default: XARES_CACHE_DIR or ~/.cache/xares/cache)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "resamples", 1) < 1:
        print("xares: --resamples must be at least 1", file=sys.stderr)
        return 2
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except XaresError as error:
        print(f"xares {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
