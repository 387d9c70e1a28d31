"""`make book`: run every notebook top to bottom at full size and save its outputs in place.

Progress bars are written as text (RNNLIB_PROGRESS=text): a widget bar saved without its
state would show "0%" for ever; a text bar leaves its final line. Each notebook's time and
its kernel's peak memory are printed, for the start page's table, with its slowest cells.
"""

import argparse
import os
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from rnnlib._io import atomic_write_text


def _peak_memory_mib(client) -> float | None:
    """The kernel process's peak resident memory (Linux), or None where it cannot be read."""
    try:
        pid = client.km.provisioner.process.pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (AttributeError, OSError, ValueError):
        return None
    return None


def slowest_cells(notebook, n: int = 3) -> list[tuple[int, float, str]]:
    """The n slowest code cells of an executed notebook: (cell number, seconds, first line).

    Read from the timing nbclient records in each cell's metadata (request to reply); cells
    are numbered from 1 among all cells, as JupyterLab's status bar counts them.
    """
    timed = []
    for number, cell in enumerate(notebook.cells, start=1):
        stamps = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or not {"iopub.execute_input", "shell.execute_reply"} <= set(
            stamps
        ):
            continue
        start, end = (datetime.fromisoformat(stamps[key].replace("Z", "+00:00"))
                      for key in ("iopub.execute_input", "shell.execute_reply"))  # fmt: skip
        lines = [
            line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")
        ]
        timed.append((number, (end - start).total_seconds(), lines[0] if lines else ""))
    return sorted(timed, key=lambda item: -item[1])[:n]


def execute_notebook(path, timeout: int = 3600) -> float:
    """Execute one notebook in its own folder and overwrite it with outputs; return seconds."""
    return run_notebook(path, timeout)[0]


def run_notebook(path, timeout: int = 3600) -> tuple[float, float | None]:
    """Execute one notebook in place; return (seconds, the kernel's peak memory in MiB or None)."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    os.environ["RNNLIB_PROGRESS"] = "text"  # the kernel inherits it
    start = time.perf_counter()
    peak = {}
    # Widget state is not stored: each widget also leaves a static PNG, which is what GitHub and
    # nbviewer show, and the state would double the size of every saved figure.
    client = NotebookClient(
        notebook,
        timeout=timeout,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
        # VmHWM is a high-water mark: the reading after the last cell is the notebook's peak.
        on_cell_executed=lambda **_: peak.update(mib=_peak_memory_mib(client)),
    )
    client.execute()
    # Written only after a clean run, so a failing cell never clobbers the saved outputs.
    atomic_write_text(path, nbformat.writes(notebook) + "\n")
    return time.perf_counter() - start, peak.get("mib")


def main(argv=None) -> None:
    """Execute the notebooks named (or all under the folders given), in order."""
    parser = argparse.ArgumentParser(prog="python -m rnnlib.tools.book", description=__doc__)
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks or folders (notebooks/)")
    targets = parser.parse_args(argv).paths or [Path("notebooks")]
    missing = [str(t) for t in targets if not t.exists()]
    if missing:
        parser.error(f"no such notebook or folder: {', '.join(missing)}")
    notebooks = sorted(p for t in targets for p in ([t] if t.is_file() else t.glob("*.ipynb")))
    for nb in notebooks:
        print(f"running {nb} ...", flush=True)
        seconds, mib = run_notebook(nb)
        memory = "" if mib is None else f", peak memory {mib:,.0f} MiB"
        print(f"  done in {seconds:.0f} s{memory}", flush=True)
        for number, cell_seconds, first_line in slowest_cells(nbformat.read(nb, as_version=4)):
            print(f"    cell {number:3d}: {cell_seconds:6.1f} s  {first_line[:70]}", flush=True)


if __name__ == "__main__":
    main()
