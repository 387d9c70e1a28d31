"""The install files agree with each other, and quick mode is read in one place."""

import re
import tomllib
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

import pytest

from rnnlib import config
from rnnlib.data import frozen

ROOT = Path(__file__).resolve().parent.parent


def _requirement(line: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", line).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(
        map(_requirement, project["dependencies"] + project["optional-dependencies"]["dev"])
    )
    conda = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:\n", 1)[1].splitlines():
        item = re.match(r"^  - ([^:#\s][^#]*)$", line)  # top-level list items only
        if item:
            name, spec = _requirement(item.group(1))
            conda[name] = spec
    conda.pop("pip")
    assert conda.pop("python") == ">=" + project["requires-python"].removeprefix(">=")
    assert conda == wanted


def test_the_gpu_extra_pins_jaxs_cuda_wheels_to_the_installed_jax():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["gpu"] == [f"jax[cuda12]=={metadata.version('jax')}"]


def test_the_frozen_corpus_and_its_licence_notice_are_package_data():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["rnnlib.data"]
    for name in (frozen.FILENAME, "LICENSE-PSF.txt"):
        assert (ROOT / "rnnlib" / "data" / name).is_file()
        assert any(fnmatch(name, pattern) for pattern in patterns), name


@pytest.mark.parametrize(
    ("value", "expected"), [("", False), ("0", False), ("1", True), ("yes", True)]
)
def test_quick_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(config.QUICK_ENV, value)
    assert config.quick_mode() is expected
    assert config.pick("full", "quick") == ("quick" if expected else "full")


def test_quick_mode_rejects_an_unclear_value(monkeypatch):
    monkeypatch.setenv(config.QUICK_ENV, "maybe")
    with pytest.raises(ValueError, match="RNNLIB_QUICK='maybe'"):
        config.quick_mode()
