"""`make book`: run every notebook top to bottom at full size and save its outputs in place."""

import argparse
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from rnnlib._io import atomic_write_text


def execute_notebook(path, timeout: int = 3600) -> float:
    """Execute one notebook in its own folder and overwrite it with outputs; return seconds."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    # Widget state is not stored: each widget also leaves a static PNG, which is what GitHub and
    # nbviewer show, and the state would double the size of every saved figure.
    client = NotebookClient(
        notebook,
        timeout=timeout,
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    # Written only after a clean run, so a failing cell never clobbers the saved outputs.
    atomic_write_text(path, nbformat.writes(notebook) + "\n")
    return time.perf_counter() - start


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
        print(f"  done in {execute_notebook(nb):.0f} s", flush=True)


if __name__ == "__main__":
    main()
