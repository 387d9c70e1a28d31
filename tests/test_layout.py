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
    forbidden = ("rnnlib.widgets", "rnnlib.tools", "rnnlib.analysis", "rnnlib.plots")
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
