"""`make lab`: JupyterLab on notebooks/, reachable only from this machine and only with a token.

It opens on the series' start page, `notebooks/00_start_here.ipynb`.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"  # the repository's notebooks/
START_PAGE = "00_start_here.ipynb"


def lab_command(
    notebook_dir,
    token: str,
    port: int = 8888,
    open_browser: bool = True,
    start_page: str | None = START_PAGE,
) -> list[str]:
    """The jupyter-lab command line: bound to 127.0.0.1, token on, opening on `start_page`."""
    if len(token) < 16:
        raise ValueError(f"token must be at least 16 characters, got {len(token)}")
    command = [
        sys.executable, "-m", "jupyterlab",
        f"--notebook-dir={notebook_dir}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.open_browser={open_browser}",
    ]  # fmt: skip
    if start_page is not None:
        # LabApp, not ServerApp: JupyterLab sets its own default URL (/lab) over the server's.
        command.append(f"--LabApp.default_url=/lab/tree/{start_page}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # Jupyter refuses root unless told; containers often are.
    return command


def start_url(port: int, token: str, host: str = "127.0.0.1") -> str:
    """The URL `make lab` prints: the start page, with the token that opens the server."""
    return f"http://{host}:{port}/lab/tree/{START_PAGE}?token={token}"


def main() -> None:
    """Start JupyterLab and print the URL with its token."""
    port = int(os.environ.get("RNNLIB_LAB_PORT", "8888"))
    token = secrets.token_hex(24)
    print(
        f"\nOpen this URL in your browser:\n  {start_url(port, token)}\n",
        flush=True,
    )
    try:
        subprocess.run(lab_command(NOTEBOOK_DIR, token, port), check=False)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
