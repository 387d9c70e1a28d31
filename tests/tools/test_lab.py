"""`make lab` serves JupyterLab on 127.0.0.1 only, and only to requests that carry the token."""

import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from rnnlib.tools.lab import lab_command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str, headers=None) -> int:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=5
        ) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture
def lab_server(tmp_path):
    port, token = _free_port(), secrets.token_hex(24)
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "run"), "JUPYTER_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    command = lab_command(tmp_path, token, port, open_browser=False)
    log = open(tmp_path / "lab.log", "w")  # closed in the finally below
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):  # up to ~60 s on a busy machine
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            try:
                _status(f"{base}/api")
                break
            except OSError:
                time.sleep(0.5)
        yield base, token, port
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_lab_refuses_requests_without_the_token(lab_server):
    base, token, port = lab_server
    assert _status(f"{base}/api/contents") == 403
    assert _status(f"{base}/api/contents?token=wrong-token-wrong") == 403
    assert _status(f"{base}/api/contents?token={token}") == 200
    assert _status(f"{base}/api/contents", {"Authorization": f"token {token}"}) == 200


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as the kernel lists them) of sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for row in open(table).read().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def test_lab_listens_on_loopback_only(lab_server):
    _, _, port = lab_server
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    # 0100007F is 127.0.0.1 in the kernel's little-endian hex; 00000000 would be all interfaces.
    assert _listening_addresses(port) == {"0100007F"}


def test_lab_command_rejects_a_short_token(tmp_path):
    with pytest.raises(ValueError, match="at least 16 characters, got 3"):
        lab_command(tmp_path, "abc")


def test_make_lab_serves_the_repositorys_notebooks_and_opens_the_start_page(tmp_path):
    from rnnlib.tools.lab import NOTEBOOK_DIR, START_PAGE

    assert (NOTEBOOK_DIR / START_PAGE).is_file()
    assert (NOTEBOOK_DIR / "01_text_to_training_data.ipynb").is_file()
    command = lab_command(NOTEBOOK_DIR, "t" * 16)
    assert f"--notebook-dir={NOTEBOOK_DIR}" in command
    assert f"--LabApp.default_url=/lab/tree/{START_PAGE}" in command
