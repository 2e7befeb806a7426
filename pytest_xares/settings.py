"""The plugin's options, resolved once: command line, then ``XARES_*`` environment, then ini, then default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_xares.encoder import EncoderSpec

ZENODO_URL = "https://zenodo.org"


def parse_flag(text: str) -> bool:
    if text.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if text.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xares"


@dataclass(frozen=True)
class Option:
    name: str  # without the "xares-" prefix
    help: str
    default: Callable[[], Any] = lambda: None
    parse: Callable[[str], Any] = str
    metavar: str | None = None
    flag: bool = False  # a switch: --xares-NAME on the command line, 1/true/yes/on elsewhere

    @property
    def dest(self) -> str:
        return "xares_" + self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return "XARES_" + self.name.replace("-", "_").upper()


OPTIONS = (
    Option("encoder", "the encoder to evaluate: path.py, path.py:Class or package.module:Class; "
           "switches the suite on", metavar="SPEC"),
    Option("suite", "which suite to run: 'xares' (the benchmark) or 'demo' (small synthetic tasks, offline)",
           lambda: "xares", metavar="NAME"),
    Option("data-dir", "where task data lives, one folder per task (an X-ARES env/ directory works as is)",
           lambda: _cache_home() / "data", Path, "DIR"),
    Option("cache-dir", "where embeddings, scores and check results are cached",
           lambda: _cache_home() / "cache", Path, "DIR"),
    Option("tasks-dir", "a folder of your own task definitions (modules exposing TASK), added to the suite",
           parse=Path, metavar="DIR"),
    Option("json", "write the results with their provenance to this JSON file", parse=Path, metavar="PATH"),
    Option("seed", "seed of every probe", lambda: 42, int, "N"),
    Option("device", "torch device for the encoder: 'auto' (a GPU per worker when there are GPUs), 'cpu', 'cuda:1', …",
           lambda: "auto", metavar="DEVICE"),
    Option("batch-size", "clips per encoder call (only clips of equal length share a call)", lambda: 16, int, "N"),
    Option("baseline", "a baseline file of scores: an item fails when its score falls below its entry by more "
           "than the tolerance", parse=Path, metavar="PATH"),
    Option("update-baseline", "write this run's scores into the baseline file (merged, tolerances kept)",
           lambda: False, parse_flag, flag=True),
    Option("tolerance", "default absolute tolerance of baseline entries without their own", parse=float, metavar="X"),
    Option("markdown", "write a Markdown table of the results (also appended to $GITHUB_STEP_SUMMARY when set)",
           parse=Path, metavar="PATH"),
    Option("plot", "draw the scores beside the published baselines into this PNG (needs matplotlib)",
           parse=Path, metavar="PATH"),
    Option("zenodo-url", "the Zenodo server task data is fetched from, or a mirror serving the same API paths",
           lambda: ZENODO_URL, metavar="URL"),
    Option("offline", "never touch the network: tasks whose data is absent are skipped, saying which files are missing",
           lambda: False, parse_flag, flag=True),
    Option("download-only", "fetch the selected tasks' data and stop (no encoder needed): one item per task",
           lambda: False, parse_flag, flag=True),
    Option("verify-data", "check the selected tasks' files against their records' md5 checksums (no encoder needed)",
           lambda: False, parse_flag, flag=True),
    Option("asr-lm", "the frozen language model of the speech recognition task: a Hugging Face name or a local "
           "folder (default: the task's own, Qwen/Qwen2.5-0.5B)", metavar="NAME_OR_DIR"),
)


@dataclass(frozen=True)
class Settings:
    encoder: EncoderSpec | None
    suite: str
    data_dir: Path
    cache_dir: Path
    tasks_dir: Path | None
    json: Path | None
    seed: int
    device: str
    batch_size: int
    baseline: Path | None = None
    update_baseline: bool = False
    tolerance: float | None = None
    markdown: Path | None = None
    plot: Path | None = None
    zenodo_url: str = ZENODO_URL
    offline: bool = False
    download_only: bool = False
    verify_data: bool = False
    asr_lm: str | None = None

    @property
    def active(self) -> bool:
        return self.encoder is not None or self.data_mode is not None

    @property
    def data_mode(self) -> str | None:
        """``"download"`` or ``"verify"`` when the run handles data only (no encoder), else ``None``."""
        return "download" if self.download_only else "verify" if self.verify_data else None

    @classmethod
    def with_defaults(cls, **values: Any) -> Settings:
        """Settings for the Python API: ``values`` (those not None), then ``XARES_*``, then defaults."""
        resolved: dict[str, Any] = {"encoder": values.pop("encoder", None)}
        for option in OPTIONS[1:]:  # every option but the encoder
            name = option.name.replace("-", "_")
            value = values.get(name)
            if value is None and os.environ.get(option.env):
                value = option.parse(os.environ[option.env])
            value = option.default() if value is None else value
            resolved[name] = Path(value).expanduser().resolve() if option.parse is Path and value is not None else value
        return cls(**resolved)


settings_key = pytest.StashKey[Settings]()


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("xares", "X-ARES audio encoder benchmark")
    for option in OPTIONS:
        if option.flag:
            group.addoption(f"--xares-{option.name}", dest=option.dest, action="store_const", const="1", help=option.help)
        else:
            group.addoption(f"--xares-{option.name}", dest=option.dest, metavar=option.metavar, help=option.help)
        parser.addini(option.dest, option.help, default=None)


def resolve(config: pytest.Config) -> Settings:
    """Read every option once; relative paths are taken from where pytest was invoked."""
    base = Path(config.invocation_params.dir)
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = config.getoption(option.dest) or os.environ.get(option.env) or config.getini(option.dest)
        try:
            value = option.parse(raw) if raw not in (None, "") else option.default()
        except ValueError:
            raise pytest.UsageError(f"--xares-{option.name}: cannot read {raw!r} ({option.help})") from None
        if isinstance(value, Path):
            value = (base / value.expanduser()).resolve()
        values[option.name.replace("-", "_")] = value
    if values["suite"] not in ("xares", "demo"):
        raise pytest.UsageError(f"--xares-suite must be 'xares' or 'demo', not {values['suite']!r}")
    if values["update_baseline"] and values["baseline"] is None:
        raise pytest.UsageError("--xares-update-baseline needs --xares-baseline=PATH: the file to write")
    if values["download_only"] and values["verify_data"]:
        raise pytest.UsageError("choose one of --xares-download-only and --xares-verify-data")
    if not values["zenodo_url"].startswith(("http://", "https://")):
        raise pytest.UsageError(f"--xares-zenodo-url must be an http:// or https:// URL, not {values['zenodo_url']!r}")
    if values["batch_size"] < 1:
        raise pytest.UsageError("--xares-batch-size must be at least 1")
    encoder = values.pop("encoder")
    return Settings(encoder=EncoderSpec.parse(encoder, base) if encoder else None, **values)
