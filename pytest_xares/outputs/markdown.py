"""The Markdown report: to a file (``--xares-markdown``) and to a GitHub Actions job summary
(``$GITHUB_STEP_SUMMARY``), where a workflow shows it on the run's page."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pytest_xares.files import make_folder, storage_error, write_atomic
from pytest_xares.results.baseline import Baseline
from pytest_xares.results.scores import Results, provenance
from pytest_xares.results.table import markdown

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def write_markdown(
    results: Results,
    path: Path | None,
    baseline: Baseline | None = None,
    environ: Mapping[str, str] = os.environ,
    suite: str | None = None,
) -> list[str]:
    """Write the report (headed with the suite, the encoder, the seed and the versions) to ``path``
    and append it to the job summary, where each is asked for; returns what was written where, for
    the terminal."""
    if path is None and not environ.get(STEP_SUMMARY):
        return []
    text = markdown(results, baseline, suite, provenance(results.encoder, results.seed))
    written = []
    if path is not None:
        write_atomic(path, text, option="--xares-markdown")
        written.append(f"Markdown report written to {path}")
    summary = environ.get(STEP_SUMMARY)
    if summary:
        make_folder(Path(summary).parent, f"${STEP_SUMMARY}")
        try:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as error:
            raise storage_error(error, Path(summary), f"${STEP_SUMMARY}") from error
        written.append(f"Markdown report appended to the job summary (${STEP_SUMMARY}: {summary})")
    return written
