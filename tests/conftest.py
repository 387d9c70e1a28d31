"""Test-wide settings (a non-interactive plotting backend, Keras on JAX) and real mounts."""

import os
import subprocess

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import matplotlib  # noqa: E402

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close what a test drew: pyplot keeps every figure open until told, and warns past 20."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


# --- real mounts: root ignores file modes, so only a mount makes a place unwritable -------------


def _mount(*args) -> None:
    subprocess.run(["mount", *map(str, args)], check=True, capture_output=True, text=True)


def _umount(path) -> None:
    subprocess.run(["umount", str(path)], check=False, capture_output=True)


def _writable(directory) -> bool:
    probe = directory / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


def _mounted(kind: str, *args):
    """Mount, or skip the test saying why this machine cannot."""
    try:
        _mount(*args)
    except (OSError, subprocess.CalledProcessError) as e:
        reason = getattr(e, "stderr", "") or e
        pytest.skip(f"cannot mount a {kind} here ({str(reason).strip()}); it needs root and mount")


@pytest.fixture
def read_only_dir(tmp_path):
    """(source, view): `view` shows `source` through a read-only bind mount."""
    source, view = tmp_path / "source", tmp_path / "read-only"
    source.mkdir()
    view.mkdir()
    _mounted("read-only bind mount", "--bind", source, view)
    try:
        _mount("-o", "remount,bind,ro", view)
        assert not _writable(view), "the read-only mount accepted a write"
        yield source, view
    finally:
        _umount(view)


@pytest.fixture
def small_tmpfs(tmp_path):
    """mount(kilobytes) -> a directory on a fresh tmpfs of that size (a disk that fills up)."""
    mounted = []

    def mount(kilobytes: int):
        directory = tmp_path / f"tmpfs{len(mounted)}"
        directory.mkdir()
        _mounted("tmpfs", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", directory)
        mounted.append(directory)
        return directory

    yield mount
    for directory in mounted:
        _umount(directory)


# --- across machines: what another machine wrote is compared within float tolerance ----------

# OpenBLAS picks other kernels on other CPUs (or when OPENBLAS_CORETYPE forces one), and they
# sum in another order: a float32 weight trained for a few epochs then differs in its last
# bits (3e-8 measured between SkylakeX and Haswell). Bit-exact comparisons are for two runs
# on the same machine; a fixture written elsewhere gets this tolerance.
ACROSS_MACHINES = {"rtol": 1e-5, "atol": 1e-7}


def _assert_close(actual, expected, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            _assert_close(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) or hasattr(expected, "dtype"):
        import numpy as np

        np.testing.assert_allclose(actual, expected, **ACROSS_MACHINES, err_msg=where)
    else:  # ints, strings, None: exact on any machine
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@pytest.fixture
def assert_close_across_machines():
    """assert_close(actual, expected): nested dicts/lists, floats and arrays within tolerance."""
    return lambda actual, expected: _assert_close(actual, expected, "value")
