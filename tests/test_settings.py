"""One resolver of options for the plugin and the Python API: precedence, parsing, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_xares.encoder import EncoderSpec
from pytest_xares.errors import UsageError
from pytest_xares.settings import Settings, resolve
from pytest_xares.testing import MEL

#: A test beside the suite that writes the run's resolved settings to a file.
SHOW_SETTINGS = """
import json

from pytest_xares.plugin.session import session_of


def test_show_settings(pytestconfig):
    s = session_of(pytestconfig).settings
    shown = {{"seed": s.seed, "batch_size": s.batch_size, "device": s.device, "suite": s.suite,
             "data_dir": str(s.data_dir), "encoder": str(s.encoder)}}
    with open({path!r}, "w") as handle:
        json.dump(shown, handle)
"""


@pytest.fixture
def show(pytester: pytest.Pytester):
    """Run pytest with ``args`` (the suite deselected) and return the settings it resolved."""
    shown = pytester.path / "shown.json"
    test_file = pytester.makepyfile(test_show=SHOW_SETTINGS.format(path=str(shown)))

    def run(*args: str) -> dict:
        shown.unlink(missing_ok=True)
        result = pytester.runpytest(str(test_file), "-k", "test_show_settings", "-p", "no:cacheprovider", *args)
        result.assert_outcomes(passed=1)
        return json.loads(shown.read_text())

    return run


def test_the_plugin_takes_the_command_line_then_the_environment_then_the_ini_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, show
) -> None:
    monkeypatch.delenv("XARES_DATA_DIR")
    pytester.makeini(
        f"[pytest]\nxares_encoder = {MEL}\nxares_seed = 1\nxares_batch_size = 4\nxares_device = cpu\n"
        "xares_data_dir = ini-data\n"
    )
    from_ini = {
        "seed": 1,
        "batch_size": 4,
        "device": "cpu",
        "suite": "xares",
        "data_dir": str(pytester.path / "ini-data"),  # relative to where pytest runs
        "encoder": MEL,
    }
    assert show() == from_ini
    monkeypatch.setenv("XARES_SEED", "2")
    monkeypatch.setenv("XARES_SUITE", "demo")
    monkeypatch.setenv("XARES_DATA_DIR", "env-data")
    from_env = from_ini | {"seed": 2, "suite": "demo", "data_dir": str(pytester.path / "env-data")}
    assert show() == from_env
    from_command_line = from_env | {"seed": 3, "batch_size": 8, "data_dir": str(pytester.path / "cli-data")}
    assert show("--xares-seed=3", "--xares-batch-size=8", "--xares-data-dir=cli-data") == from_command_line


def test_the_plugin_reads_the_encoder_from_the_environment_too(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, show
) -> None:
    monkeypatch.setenv("XARES_ENCODER", MEL)
    assert show()["encoder"] == MEL
    pytester.makeini("[pytest]\nxares_encoder = some.other.module\n")
    assert show()["encoder"] == MEL


def test_the_python_api_takes_keywords_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XARES_SEED", "7")
    monkeypatch.setenv("XARES_DEVICE", "cpu")
    assert Settings.with_defaults().seed == 7
    assert Settings.with_defaults(seed=None).seed == 7  # None sets nothing
    chosen = Settings.with_defaults(seed=3, batch_size="5")
    assert (chosen.seed, chosen.batch_size, chosen.device) == (3, 5, "cpu")
    monkeypatch.delenv("XARES_SEED")
    assert Settings.with_defaults().seed == 42


def test_the_first_source_that_sets_an_option_wins(tmp_path: Path) -> None:
    settings = resolve({"seed": None, "device": ""}, {"seed": "2", "device": "cpu"}, {"seed": 9}, base=tmp_path)
    assert (settings.seed, settings.device) == (2, "cpu")
    assert resolve(base=tmp_path).seed == 42


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": 0}, "--xares-batch-size must be at least 1"),
        ({"suite": "nope"}, "--xares-suite must be 'xares' or 'demo', not 'nope'"),
        ({"seed": "forty"}, "--xares-seed: cannot read 'forty'"),
        ({"zenodo_url": "ftp://mirror"}, "--xares-zenodo-url must be an http"),
        ({"update_baseline": True}, "--xares-update-baseline needs --xares-baseline"),
        ({"colour": "red", "batch_size": 2}, "unknown settings: colour"),
    ],
)
def test_the_python_api_validates_like_the_plugin(values: dict, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        Settings.with_defaults(**values)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)  # for callers that catch the built-in


def test_the_plugin_reports_the_same_errors_as_usage_errors(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--xares-encoder={MEL}", "--xares-batch-size=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xares-batch-size must be at least 1*"])


def test_relative_paths_resolve_against_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XARES_CACHE_DIR", "env-cache")
    settings = Settings.with_defaults(
        data_dir="data", json=Path("out") / "results.json", tasks_dir="~/../my-tasks", encoder="enc/my_encoder.py"
    )
    assert settings.data_dir == tmp_path / "data"
    assert settings.cache_dir == tmp_path / "env-cache"
    assert settings.json == tmp_path / "out" / "results.json"
    assert settings.tasks_dir == (Path.home() / ".." / "my-tasks").resolve()
    assert settings.encoder == EncoderSpec(str(tmp_path / "enc" / "my_encoder.py"))
    absolute = tmp_path / "elsewhere"
    assert Settings.with_defaults(data_dir=absolute).data_dir == absolute
