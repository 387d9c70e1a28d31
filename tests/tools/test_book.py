"""`make book`: notebooks run in place, saved only after a clean run; clear errors for bad paths."""

import nbformat
import pytest

from rnnlib.tools import book


def write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, path)


def test_a_notebook_runs_in_its_folder_and_keeps_its_outputs(tmp_path):
    (tmp_path / "data.txt").write_text("forty-two")
    path = tmp_path / "nb.ipynb"
    write_notebook(path, "print(open('data.txt').read())", "6 * 7")
    book.execute_notebook(path)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].outputs[0]["text"] == "forty-two\n"  # ran with the notebook's folder as cwd
    assert cells[1].outputs[0]["data"]["text/plain"] == "42"


def test_a_failing_notebook_is_left_as_it_was(tmp_path):
    path = tmp_path / "nb.ipynb"
    write_notebook(path, "1 + 1", "raise ValueError('broken cell')")
    before = path.read_bytes()
    with pytest.raises(Exception, match="broken cell"):
        book.execute_notebook(path)
    assert path.read_bytes() == before


def test_a_missing_path_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        book.main([str(tmp_path / "nope.ipynb")])
    assert exit_info.value.code == 2
    assert "no such notebook or folder:" in capsys.readouterr().err


def test_run_notebook_reports_the_kernels_peak_memory(tmp_path):
    import nbformat

    path = tmp_path / "big.ipynb"
    cells = [
        nbformat.v4.new_code_cell(
            "block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096])"
        )
    ]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    seconds, mib = book.run_notebook(path)
    assert seconds > 0 and mib is not None and mib > 300  # the kernel held 300 MiB at once


def test_the_slowest_cells_are_named_with_their_time(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    write_notebook(path, "1 + 1", "# a comment first\nimport time\ntime.sleep(0.4)", "2 + 2")
    book.main([str(path)])
    slowest = book.slowest_cells(nbformat.read(path, as_version=4), n=3)
    assert [number for number, _, _ in slowest][0] == 2 and len(slowest) == 3
    number, seconds, first_line = slowest[0]
    assert 0.4 <= seconds < 5 and first_line == "import time"  # the sleep, not the comment
    assert all(s < 0.4 for _, s, _ in slowest[1:])
    assert "cell   2:" in capsys.readouterr().out
