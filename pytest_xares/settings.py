"""The options of a run, resolved once into one ``Settings`` for the plugin and the Python API.

Each option is a command-line flag (``--xares-data-dir``), an ini setting (``xares_data_dir``), an
environment variable (``XARES_DATA_DIR``) and a keyword of the Python API (``data_dir=``). One
resolver, ``resolve``, takes them in the order of precedence its caller gives (the plugin: command
line, environment, ini; the API: keywords, environment), parses and validates them, and raises a
``UsageError`` naming the option for a value that cannot work. Nothing here imports pytest.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_xares.encoder import EncoderSpec
from pytest_xares.encoder.layers import LAST, Layers
from pytest_xares.encoder.loading import encoder_specs, encoder_texts
from pytest_xares.errors import UsageError

ZENODO_URL = "https://zenodo.org"
#: The kNN normalisations: the protocol's, and X-ARES 0.1.3's, which produced its published kNN scores.
KNN_MODES = ("per-sample", "xares-0.1.3")
SUITES = ("xares", "demo")
#: What ``--xares-ray`` takes: ``local``, ``auto``, or a head's address (``host:port``, ``ray://host:port``).
RAY_ADDRESS = re.compile(r"local|auto|(ray://)?[\w.\-\[\]:]+:\d+")


def parse_flag(text: str) -> bool:
    if text.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if text.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _bad(text: str) -> str:
    raise ValueError(text)


def parse_meta(value: str | list[str] | Mapping[str, Any]) -> dict[str, str]:
    """``--xares-meta`` entries as a dict: a list of ``key=value`` (one per flag on the command
    line, one per line of the ini setting), text holding entries separated by newlines or ``;``
    (the environment variable), or a mapping (the Python API). A malformed entry or a key given
    twice is a ``UsageError`` naming it."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    entries = re.split(r"[\n;]", value) if isinstance(value, str) else value
    meta: dict[str, str] = {}
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        key, equals, text = entry.partition("=")
        key = key.strip()
        if not equals or not key or any(c.isspace() for c in key):
            raise UsageError(
                f"--xares-meta: {entry!r} is not key=value (a key without spaces, an equals sign, "
                "then the value: --xares-meta commit=3f2a1c)"
            )
        if key in meta:
            raise UsageError(f"--xares-meta: {key!r} is given twice ({meta[key]!r} and {text.strip()!r})")
        meta[key] = text.strip()
    return meta


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
    #: Given once per value on the command line (a list reaches ``parse``), one per line in the ini.
    repeat: bool = False

    @property
    def attribute(self) -> str:
        """The option's name in ``Settings`` and as a keyword of the Python API."""
        return self.name.replace("-", "_")

    @property
    def dest(self) -> str:
        """The option's name in pytest: its ``dest`` and its ini setting."""
        return "xares_" + self.attribute

    @property
    def env(self) -> str:
        return "XARES_" + self.attribute.upper()


OPTIONS = (
    Option(
        "encoder",
        "the encoder to evaluate: path.py, path.py:Class or package.module:Class; switches the suite on. Give it "
        "more than once, or a glob of files (quoted), to evaluate several side by side",
        list,
        encoder_texts,
        "SPEC",
        repeat=True,
    ),
    Option(
        "checkpoints",
        "a glob of checkpoints (files or folders, quoted): each is an encoder, --xares-encoder's class built with "
        "the checkpoint's path as its one argument, evaluated side by side",
        metavar="GLOB",
    ),
    Option(
        "suite",
        "which suite to run: 'xares' (the benchmark) or 'demo' (small synthetic tasks, offline)",
        lambda: "xares",
        metavar="NAME",
    ),
    Option(
        "data-dir",
        "where task data lives, one folder per task (an X-ARES env/ directory works as is)",
        lambda: _cache_home() / "data",
        Path,
        "DIR",
    ),
    Option(
        "cache-dir",
        "where embeddings, scores and check results are cached",
        lambda: _cache_home() / "cache",
        Path,
        "DIR",
    ),
    Option(
        "tasks-dir",
        "a folder of your own task definitions (modules exposing TASK), added to the suite",
        parse=Path,
        metavar="DIR",
    ),
    Option("json", "write the results with their provenance to this JSON file", parse=Path, metavar="PATH"),
    Option("seed", "seed of every probe", lambda: 42, int, "N"),
    Option(
        "seeds",
        "train each head with N seeds (--xares-seed, and the N - 1 after it) on the same embeddings: the score is "
        "their mean, shown with their standard deviation",
        lambda: 1,
        int,
        "N",
    ),
    Option(
        "device",
        "torch device for the encoder: 'auto' (a GPU per worker when there are GPUs), 'cpu', 'cuda:1', …",
        lambda: "auto",
        metavar="DEVICE",
    ),
    Option("batch-size", "clips per encoder call (only clips of equal length share a call)", lambda: 16, int, "N"),
    Option(
        "baseline",
        "a baseline file of scores: an item fails when its score falls below its entry by more than the tolerance",
        parse=Path,
        metavar="PATH",
    ),
    Option(
        "update-baseline",
        "write this run's scores into the baseline file (merged, tolerances kept; with --xares-seeds=N also "
        "each score's spread over the seeds, which sets the entry's tolerance)",
        lambda: False,
        parse_flag,
        flag=True,
    ),
    Option(
        "tolerance",
        "absolute tolerance of baseline entries without their own (a tolerance, or a spread measured with "
        "--xares-seeds; default: the file's, else 0.05)",
        parse=float,
        metavar="X",
    ),
    Option(
        "markdown",
        "write a Markdown table of the results (also appended to $GITHUB_STEP_SUMMARY when set)",
        parse=Path,
        metavar="PATH",
    ),
    Option(
        "plot",
        "draw the scores beside the published baselines into this PNG (needs matplotlib)",
        parse=Path,
        metavar="PATH",
    ),
    Option(
        "zenodo-url",
        "the Zenodo server task data is fetched from, or a mirror serving the same API paths",
        lambda: ZENODO_URL,
        metavar="URL",
    ),
    Option(
        "offline",
        "never touch the network: tasks whose data is absent are skipped, saying which files are missing",
        lambda: False,
        parse_flag,
        flag=True,
    ),
    Option(
        "download-only",
        "fetch the selected tasks' data and stop (no encoder needed): one item per task",
        lambda: False,
        parse_flag,
        flag=True,
    ),
    Option(
        "verify-data",
        "check the selected tasks' files against their records' md5 checksums (no encoder needed)",
        lambda: False,
        parse_flag,
        flag=True,
    ),
    Option(
        "asr-lm",
        "the frozen language model of the speech recognition task: a Hugging Face name or a local "
        "folder (default: the task's own, Qwen/Qwen2.5-0.5B)",
        metavar="NAME_OR_DIR",
    ),
    Option(
        "knn",
        "how kNN normalises the embeddings: 'per-sample' (each one, as the protocol intends) or 'xares-0.1.3' "
        "(X-ARES 0.1.3's own: the training features per dimension, which made its published kNN column)",
        lambda: "per-sample",
        lambda text: text if text in KNN_MODES else _bad(text),
        "MODE",
    ),
    Option(
        "layers",
        "which of the encoder's layers clip tasks score: 'last' (its output, X-ARES's protocol), 'all' (a head "
        "per layer; the table shows the best one beside the last), 'weighted' (one head on a learned softmax-"
        "weighted sum of every layer, SUPERB's way) or layer numbers like 3,6,-1; needs an encoder that exposes "
        "its hidden states",
        lambda: LAST,
        Layers.parse,
        "LAYERS",
    ),
    Option(
        "frame-layers",
        "the same for frame-level and speech tasks, which store every frame of each layer they score (the disk "
        "of 'last' times the number of layers: see --xares-estimate)",
        lambda: LAST,
        Layers.parse,
        "LAYERS",
    ),
    Option(
        "name",
        "what the results are called in the results file, the reports and `xares compare` (default: the encoder)",
        metavar="NAME",
    ),
    Option(
        "meta",
        "a label written into the results file and shown in comparisons: key=value (repeat the option for more; "
        "XARES_META separates entries with ';')",
        dict,
        parse_meta,
        "KEY=VALUE",
        repeat=True,
    ),
    Option(
        "estimate",
        "print per selected task the download, the cache's disk and the encoding time, from the data and a "
        "timing of the encoder on this device; nothing is downloaded, scored or cached",
        lambda: False,
        parse_flag,
        flag=True,
    ),
    Option(
        "ray",
        "run each task's work on a Ray cluster, this session waiting for the results: 'local' (start Ray "
        "here), 'auto' (join the running cluster) or its head's address (host:port, ray://host:port); needs "
        "pip install 'pytest-xares[ray]'",
        parse=lambda text: text.strip() if RAY_ADDRESS.fullmatch(text.strip()) else _bad(text),
        metavar="ADDRESS",
    ),
)


@dataclass(frozen=True)
class Settings:
    #: The encoder, or the first of several (``encoders``).
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
    knn: str = "per-sample"
    name: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    estimate: bool = False
    seeds: int = 1
    ray: str | None = None
    layers: Layers = LAST
    frame_layers: Layers = LAST
    #: Every encoder of the run (``--xares-encoder`` given more than once, a glob, ``--xares-checkpoints``).
    encoders: tuple[EncoderSpec, ...] = ()
    checkpoints: str | None = None

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
        return resolve(values, from_environment(os.environ), base=Path.cwd())


def from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The options set as ``XARES_*`` environment variables, by attribute name."""
    return {option.attribute: environ[option.env] for option in OPTIONS if environ.get(option.env)}


def resolve(*sources: Mapping[str, Any], base: Path) -> Settings:
    """The settings from ``sources`` (attribute name → value; the first source that sets an option
    wins, ``None`` and ``""`` set nothing), defaults for the rest. Text is parsed as the option
    says; relative paths are taken from ``base``. Raises ``UsageError`` naming the option."""
    unknown = sorted(set().union(*sources) - {option.attribute for option in OPTIONS})
    if unknown:
        raise UsageError(f"unknown settings: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = next(
            (source[option.attribute] for source in sources if source.get(option.attribute) not in (None, "", [])),
            None,
        )
        try:
            parsed = isinstance(raw, str) or option.repeat
            value = option.default() if raw is None else option.parse(raw) if parsed else raw
        except UsageError:
            raise  # it names the value and says what to do
        except ValueError:
            raise UsageError(f"--xares-{option.name}: cannot read {raw!r} ({option.help})") from None
        if option.parse is Path and value is not None:
            value = (base / Path(value).expanduser()).resolve()
        values[option.attribute] = value
    encoders = encoder_specs(values.pop("encoder"), values["checkpoints"], base)
    settings = Settings(encoder=encoders[0] if encoders else None, encoders=encoders, **values)
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    """Raise ``UsageError`` for settings that cannot work together, and, when the plugin is on, for
    whatever would fail only after the work (``_check_before_work``)."""
    if s.suite not in SUITES:
        raise UsageError(f"--xares-suite must be {' or '.join(map(repr, SUITES))}, not {s.suite!r}")
    if s.update_baseline and s.baseline is None:
        raise UsageError("--xares-update-baseline needs --xares-baseline=PATH: the file to write")
    if s.estimate and (s.encoder is None or s.data_mode is not None):
        raise UsageError("--xares-estimate needs --xares-encoder=SPEC (it times the encoder) and no data-only option")
    if s.download_only and s.verify_data:
        raise UsageError("choose one of --xares-download-only and --xares-verify-data")
    if not s.zenodo_url.startswith(("http://", "https://")):
        raise UsageError(f"--xares-zenodo-url must be an http:// or https:// URL, not {s.zenodo_url!r}")
    if s.batch_size < 1:
        raise UsageError("--xares-batch-size must be at least 1")
    if s.seeds < 1:
        raise UsageError(
            f"--xares-seeds must be at least 1 (the number of seeds each head is trained with), not {s.seeds}"
        )
    if len(s.encoders) > 1:
        alone = [f"--xares-{name}" for name in ("baseline", "ray", "estimate", "name") if getattr(s, name)]
        if alone:
            raise UsageError(
                f"{' and '.join(alone)} take one encoder a run, and this one has {len(s.encoders)}: run them one at a "
                f"time (and `xares compare` their results files)"
            )
    if s.tolerance is not None and not (math.isfinite(s.tolerance) and s.tolerance >= 0):
        raise UsageError(f"--xares-tolerance must be a finite number of at least 0, not {s.tolerance!r}")
    if s.active:  # an inert plugin neither writes nor runs: its device and paths are not looked at
        _check_before_work(s)


#: Devices accepted without asking torch (``torch.device`` judges the rest).
KNOWN_DEVICE = re.compile(r"(auto|cpu|cuda|mps|xpu)(:\d+)?")


def _check_before_work(s: Settings) -> None:
    """Raise ``UsageError`` for what would otherwise fail only after the work: a device torch does
    not know, an output path that cannot be written, a plot without matplotlib. An unusual
    device imports torch here, which an active run imports anyway."""
    if not KNOWN_DEVICE.fullmatch(s.device):
        import torch

        try:
            torch.device(s.device)
        except (RuntimeError, ValueError) as error:
            raise UsageError(
                f"--xares-device: {s.device!r} is not a torch device ({error}); use auto, cpu, cuda, cuda:N, mps, …"
            ) from None
    for option in ("json", "markdown", "plot", "baseline"):
        path = getattr(s, option)
        if path is not None:
            _check_writable(f"--xares-{option.replace('_', '-')}", path)
    if s.ray is not None and s.data_mode is None and importlib.util.find_spec("ray") is None:
        raise UsageError(
            "--xares-ray needs Ray, which is not installed: pip install 'pytest-xares[ray]' (on every node of the "
            "cluster too), or leave out --xares-ray"
        )
    if s.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise UsageError(
            "--xares-plot needs matplotlib, which is not installed: pip install 'pytest-xares[plot]', "
            "or leave out --xares-plot"
        )


def _check_writable(option: str, path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a directory; give the path of a file to write")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{option}: {path} cannot be written: {parent} is a file, not a directory")
            break
