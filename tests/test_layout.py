"""The package's shape: no import cycles, arrows one way, every module says which notebook teaches it.

Read from the source with `ast` (nothing is imported), imports inside functions included:

    pytest tests/test_layout.py -q
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rnnlib"
MODELS = ("rnnlib.numpy_rnn", "rnnlib.pytensor_rnn", "rnnlib.keras_rnn")
# What a model may use of the training part: the framework-free records every trainer shares.
SHARED_RECORDS = "rnnlib.training.history"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The rnnlib modules that module `name` imports, anywhere in its code."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            # `from rnnlib.data import vocab` imports the module rnnlib.data.vocab
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def part(name: str) -> str:
    """The top-level part of the package a module belongs to: rnnlib.data, rnnlib.plots, ..."""
    return ".".join(name.split(".")[:2])


def test_the_graph_reads_real_imports():
    # Guards the reader itself: known arrows are found, so "no cycle" is not vacuous.
    assert "rnnlib.interface" in GRAPH["rnnlib.numpy_rnn.readable"]
    assert "rnnlib.numpy_rnn.readable" in GRAPH["rnnlib.numpy_rnn.fast"]
    assert "rnnlib.training.history" in GRAPH["rnnlib.keras_rnn.fit"]
    assert "rnnlib.data.vocab" in GRAPH["rnnlib.tools.rundata"]  # imported inside a function
    assert sum(map(len, GRAPH.values())) > 80


def test_no_import_cycles():
    done, on_path = set(), []

    def visit(name):
        if name in on_path:
            cycle = on_path[on_path.index(name) :] + [name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        on_path.append(name)
        for target in sorted(GRAPH[name]):
            # A package's __init__ re-exporting its own modules is not a cycle through them.
            if not target.startswith(name + "."):
                visit(target)
        on_path.pop()
        done.add(name)

    for name in sorted(GRAPH):
        visit(name)


def arrows(source_prefixes, target_prefixes):
    return sorted(
        f"{a} -> {b}"
        for a, targets in GRAPH.items()
        for b in targets
        if a.startswith(source_prefixes) and b.startswith(target_prefixes)
    )


def test_models_never_import_training_loops_widgets_or_tools():
    forbidden = (
        "rnnlib.widgets",
        "rnnlib.tools",
        "rnnlib.analysis",
        "rnnlib.evaluation",
        "rnnlib.plots",
    )
    assert arrows(MODELS, forbidden) == []
    training = [a for a in arrows(MODELS, "rnnlib.training") if not a.endswith(SHARED_RECORDS)]
    assert training == []


def test_training_imports_no_backend():
    assert arrows("rnnlib.training", MODELS) == []


def test_data_and_interface_sit_at_the_bottom():
    above = (*MODELS, "rnnlib.training", "rnnlib.widgets", "rnnlib.tools", "rnnlib.analysis")
    assert arrows(("rnnlib.data", "rnnlib.interface"), above) == []
    assert arrows("rnnlib.interface", "rnnlib.") == []


def test_every_lesson_module_names_its_notebook():
    missing = []
    for name, path in MODULES.items():
        doc = ast.get_docstring(ast.parse(path.read_text()))
        if doc is None:
            missing.append(f"{name}: no docstring")
            continue
        first = doc.split("\n\n")[0].lower()
        if not (name.startswith(("rnnlib.tools", "rnnlib.__main__")) or "notebook" in first):
            missing.append(f"{name}: {first.splitlines()[0]!r}")
    assert missing == []


def test_the_top_level_keeps_only_what_every_part_shares():
    """At most 8 modules beside the subpackages (interface, config, _io, sampling, plots, ...)."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, f"{len(top)} top-level modules: {top}"
    for part in ("analysis", "evaluation"):  # notebook 8's and the widgets' numbers
        assert (PACKAGE / part / "__init__.py").exists() and not (PACKAGE / f"{part}.py").exists()


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the packages a module imports (rnnlib's own left out)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found - {"rnnlib"}


def test_analysis_computes_and_never_draws():
    """The numbers behind the widgets import no widget, plot or tool, and no ipywidgets."""
    above = ("rnnlib.widgets", "rnnlib.tools", "rnnlib.plots", "rnnlib.evaluation")
    assert arrows("rnnlib.analysis", above) == []
    drawing = {
        name: sorted(third_party_imports(path) & {"ipywidgets", "IPython", "matplotlib"})
        for name, path in MODULES.items()
        if name.startswith("rnnlib.analysis")
    }
    assert {name: found for name, found in drawing.items() if found} == {}
    assert len(drawing) >= 7  # the reader found the package's modules


def test_tests_mirror_the_package():
    """tests/<part>/ for each subpackage with tests; no top-level test of a moved module."""
    tests = Path(__file__).resolve().parent
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    for folder in tests.iterdir():
        if folder.is_dir() and any(folder.glob("test_*.py")) and folder.name != "browser":
            assert folder.name in subpackages, f"tests/{folder.name}/ mirrors no rnnlib part"
    for part in ("analysis", "evaluation"):
        assert any((tests / part).glob("test_*.py")), f"no tests/{part}/"
    moved = {p.stem for part in subpackages for p in (PACKAGE / part).glob("*.py")}
    top_level_modules = {p.stem for p in PACKAGE.glob("*.py")}
    stray = sorted(
        f.name for f in tests.glob("test_*.py") if f.stem[5:] in moved - top_level_modules
    )
    assert stray == [], f"tests of subpackage modules at the top of tests/: {stray}"
