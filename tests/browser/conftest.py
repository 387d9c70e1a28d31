"""A real browser: JupyterLab on 127.0.0.1 with a token, driven by headless Chromium.

Needs Debian's `chromium` package (Playwright cannot download its own browsers here);
without it, every test of this folder is skipped with a message saying so. Deselect the
suite with `-m "not browser"`. Screenshots go to artifacts/browser/ (git-ignored).
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rnnlib.tools.lab import NOTEBOOK_DIR, START_PAGE, lab_command

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent.parent / "artifacts" / "browser"
FIXTURE_NOTEBOOK = HERE / "widgets_demo.ipynb"
# The series' own start page and the first notebook it links to, served beside the fixture.
SERIES_PAGES = (START_PAGE, "01_text_to_training_data.ipynb")
CHROMIUM = os.environ.get("RNNLIB_CHROMIUM", "/usr/bin/chromium")
SERVER_START_SECONDS = 60

# The fixture notebook is opened in the browser, not run by nbval (`pytest tests notebooks`).
collect_ignore_glob = ["*.ipynb"]

# JupyterLab settings for a run nobody watches: start the kernel without asking, no news.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root in a container the sandbox cannot start
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in headless Chromium (deselect: -m 'not browser')"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered (403 without the token is an answer)
    except OSError:
        return False


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium binary, or a skip that says what is missing."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        if found is None:
            pytest.skip(
                f"no Chromium at {CHROMIUM}: the browser tests need Debian's chromium package "
                "(apt-get install chromium) or RNNLIB_CHROMIUM=/path/to/chromium"
            )
        return found
    return CHROMIUM


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, chromium_path):
    """JupyterLab as `make lab` starts it, on a free port, serving copies of the fixture
    notebook and of the series' start page and first notebook."""
    pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (pip)")
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    shutil.copy(FIXTURE_NOTEBOOK, notebooks / FIXTURE_NOTEBOOK.name)
    for name in SERIES_PAGES:
        shutil.copy(NOTEBOOK_DIR / name, notebooks / name)
    settings = root / "settings"
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {
        **os.environ,
        "HOME": str(root),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
    }
    port, token = _free_port(), secrets.token_hex(24)
    log_path = root / "lab.log"
    with open(log_path, "w") as log:
        command = lab_command(notebooks, token, port, open_browser=False)
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not _answers(f"{base}/api"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        yield base, token, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def lab_api(lab_server):
    """call(path, method="GET"): the server's REST API (path from its root), as JSON or None."""
    base, token, _ = lab_server

    def call(path: str, method: str = "GET"):
        request = urllib.request.Request(
            f"{base}/{path}", method=method, headers={"Authorization": f"token {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    return call


@pytest.fixture(scope="session")
def browser(chromium_path):
    """Headless Chromium, launched from the system binary."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session", autouse=True)
def patient_expectations():
    """Playwright's `expect` waits 5 s by default: too short on a busy 2-core machine."""
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots are kept (created at test time; git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
