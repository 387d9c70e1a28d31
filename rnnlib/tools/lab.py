"""`make lab`: JupyterLab on notebooks/, reachable only from this machine and only with a token."""

import os
import secrets
import subprocess
import sys
from pathlib import Path


def lab_command(notebook_dir, token: str, port: int = 8888, open_browser: bool = True) -> list[str]:
    """The jupyter-lab command line: bound to 127.0.0.1, token authentication on."""
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
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # Jupyter refuses root unless told; containers often are.
    return command


def main() -> None:
    """Start JupyterLab and print the URL with its token."""
    notebook_dir = Path(__file__).resolve().parent.parent / "notebooks"
    port = int(os.environ.get("RNNLIB_LAB_PORT", "8888"))
    token = secrets.token_hex(24)
    print(
        f"\nOpen this URL in your browser:\n  http://127.0.0.1:{port}/lab?token={token}\n",
        flush=True,
    )
    try:
        subprocess.run(lab_command(notebook_dir, token, port), check=False)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
