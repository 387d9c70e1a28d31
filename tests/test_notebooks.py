"""The saved notebooks: what `make test` checks of their outputs, and what a learner is shown.

nbval (`make test`) re-runs every notebook in quick mode and compares the cells marked
`# NBVAL_CHECK_OUTPUT` with their saved outputs from a full run, after the sanitizers of
notebooks/nbval_sanitize.cfg. These tests make sure there is something to compare.
"""

import json
import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("0[1-9]_*.ipynb"))
MARKER = "# NBVAL_CHECK_OUTPUT"
SANITIZERS = NOTEBOOKS / "nbval_sanitize.cfg"


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_the_series_has_its_eight_lessons():
    assert [p.name[:2] for p in LESSONS] == [f"0{i}" for i in range(1, 9)]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_every_lesson_checks_at_least_three_saved_outputs(path):
    checked = [cell for cell in code_cells(path) if source(cell).startswith(MARKER)]
    assert len(checked) >= 3, f"{path.name}: {len(checked)} cells marked {MARKER}"
    for cell in checked:  # a marked cell without a saved output would check nothing
        printed = [o for o in cell["outputs"] if o["output_type"] in ("stream", "execute_result")]
        assert printed, f"{path.name}: marked cell has no saved text output:\n{source(cell)}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_saved_outputs_come_from_a_full_run_without_errors(path):
    for cell in code_cells(path):
        assert cell["outputs"] or not source(cell).strip() or cell["execution_count"], path.name
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{path.name}: saved error in\n{source(cell)}"
            text = "".join(output.get("text", ""))
            assert "quick mode" not in text.lower(), f"{path.name} was saved from a quick run"


def test_the_sanitizers_are_valid_and_hide_only_what_they_say():
    pairs = get_sanitize_patterns(SANITIZERS.read_text())  # as nbval reads the file
    assert pairs
    patterns = [re.compile(regex) for regex, _ in pairs]

    def sanitize(text: str) -> str:
        for pattern, (_, replacement) in zip(patterns, pairs, strict=True):
            text = pattern.sub(replacement, text)
        return text

    # Rounding noise and wall times go; a real disagreement and a real count stay visible.
    assert sanitize("largest difference 1.1e-16") == sanitize("largest difference 8.3e-17")
    assert sanitize("largest difference 1.1e-16") != sanitize("largest difference 2.9e-01")
    assert sanitize("compiled in 1.91 s") == sanitize("compiled in 0.56 s")
    assert sanitize("U (10, 100), 1000 entries") != sanitize("U (10, 100), 999 entries")
    assert sanitize("worst relative error 4.9e-06") != sanitize("worst relative error 5.9e-06")
