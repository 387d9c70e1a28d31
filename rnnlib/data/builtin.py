"""The built-in offline corpus: English prose from the standard library's own documentation (notebook 1).

Every Python install ships two kinds of documentation text: the language reference
topics behind `help("assert")` (`pydoc_data.topics`) and the docstrings of the
standard modules. Both mix prose with code samples, tables and reST markup; this
module keeps the prose, one paragraph per document, each labelled with its source
("topic:assert", "module:os.path").

What you get by default is the frozen copy (`rnnlib.data.frozen`): the same text for
everyone, whatever Python runs the notebooks. `builtin_corpus(live=True)` builds it
from the running Python instead (docstrings change between versions and builds), in
a fresh interpreter, and caches the result.
"""

import contextlib
import hashlib
import importlib
import inspect
import io
import os
import pkgutil
import subprocess
import sys
import warnings
from pathlib import Path

from rnnlib._io import atomic_write_text
from rnnlib.data.frozen import frozen_corpus
from rnnlib.data.prose import prose_paragraphs

CACHE_ENV = "RNNLIB_CACHE_DIR"
# The code that builds the corpus: the cache file's name carries a digest of it, so an
# edited cleaning rule never meets a stale cache.
BUILDER_FILES = ("builtin.py", "prose.py")

# Skipped: modules whose import does something (prints, opens a browser, installs a
# completer); GUIs (often missing: Tk is an optional system package); modules that a
# third-party package may shadow (setuptools' distutils), which would make the corpus
# depend on what else is installed; codecs (a hundred near-identical docstrings); test
# suites; and pydoc_data, which is read directly.
SKIP_MODULES = frozenset(
    {
        "antigravity",
        "this",
        "idlelib",
        "tkinter",
        "turtle",
        "turtledemo",
        "distutils",
        "lib2to3",
        "readline",
        "rlcompleter",
        "encodings",
        "pydoc_data",
        "test",
        "tests",
        "idle_test",
    }
)


# --- where the text comes from -------------------------------------------------------


@contextlib.contextmanager
def _quietly():
    """Swallow what imports and deprecated attributes print or warn."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield


def _quiet_import(name: str):
    """Import a module without letting it print or warn; None when it fails."""
    try:
        with _quietly():
            return importlib.import_module(name)
    except (Exception, SystemExit):
        return None


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") or part in SKIP_MODULES for part in name.split("."))


def stdlib_modules() -> list:
    """The public standard-library modules and their submodules that import cleanly, sorted."""
    modules = []

    def visit(name: str) -> None:
        module = _quiet_import(name)
        if module is None:
            return  # not on this platform (winreg), or a C extension this build lacks
        modules.append(module)
        children = pkgutil.iter_modules(getattr(module, "__path__", []))
        for child in sorted(f"{name}.{info.name}" for info in children):
            if _is_public(child):
                visit(child)

    for name in sorted(sys.stdlib_module_names):
        if _is_public(name):
            visit(name)
    return modules


def _is_documented_member(value) -> bool:
    return (
        inspect.isroutine(value) or isinstance(value, property) or inspect.isdatadescriptor(value)
    )


def module_docstrings(module) -> list[str]:
    """Docstrings of a module, its public classes and functions, and their members."""
    # What the module exports, and what it defines itself (not what it merely imported).
    exported = getattr(module, "__all__", None)
    names = set(exported) if isinstance(exported, (list, tuple)) else set()
    names.update(
        name
        for name, value in vars(module).items()
        if getattr(value, "__module__", None) == module.__name__
    )
    docs = [module.__doc__]
    for name in sorted(n for n in names if isinstance(n, str) and not n.startswith("_")):
        value = getattr(module, name, None)
        if not (inspect.isclass(value) or inspect.isroutine(value)):
            continue
        docs.append(value.__doc__)
        if inspect.isclass(value):
            for member_name, member in sorted(vars(value).items()):
                # Public members, and special methods such as __init__ (but not _private).
                special = member_name.startswith("__") and member_name.endswith("__")
                if (special or not member_name.startswith("_")) and _is_documented_member(member):
                    docs.append(getattr(member, "__doc__", None))
    return [inspect.cleandoc(doc) for doc in docs if isinstance(doc, str)]


def source_texts() -> list[tuple[str, str]]:
    """(source, raw text) in a fixed order: pydoc topics by name, then module docstrings."""
    from pydoc_data.topics import topics

    texts = [(f"topic:{key}", topics[key]) for key in sorted(topics)]
    for module in stdlib_modules():
        with _quietly():  # some attributes warn when touched (typing.io is deprecated)
            texts.extend((f"module:{module.__name__}", doc) for doc in module_docstrings(module))
    return texts


def build_stdlib_corpus() -> list[tuple[str, str]]:
    """(source, paragraph) of every prose paragraph; a repeat is dropped (the first is kept)."""
    documents, seen = [], set()
    for source, text in source_texts():
        for paragraph in prose_paragraphs(text):
            if paragraph not in seen:
                seen.add(paragraph)
                documents.append((source, paragraph))
    return documents


# --- the cache ------------------------------------------------------------------------


def resolve_cache_dir(path=None) -> Path:
    """The cache directory: `path`, else $RNNLIB_CACHE_DIR, else ~/.cache/rnnlib."""
    if path is None:
        path = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rnnlib"
    return Path(path).expanduser()


def builder_digest() -> str:
    """A short sha256 of the builder's source (BUILDER_FILES): it changes with any rule."""
    digest = hashlib.sha256()
    for name in BUILDER_FILES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()[:12]


def cache_file(directory=None) -> Path:
    """The cache file for this Python version (docstrings change between versions) and builder."""
    version = ".".join(map(str, sys.version_info[:3]))
    name = f"stdlib-corpus-{sys.implementation.name}-{version}-{builder_digest()}.txt"
    return resolve_cache_dir(directory) / name


def _read_cache(path: Path) -> list[tuple[str, str]] | None:
    """The cached (source, document) pairs, or None when missing or not a complete cache."""
    try:
        header, *lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    documents = [tuple(line.split("\t")) for line in lines]
    if header != f"# rnnlib stdlib corpus: {len(lines)} documents" or any(
        len(pair) != 2 for pair in documents
    ):
        return None
    return documents


def write_corpus_file(path) -> None:
    """Build the corpus in this interpreter; write "source<TAB>document" lines atomically."""
    documents = build_stdlib_corpus()
    # Cleaning collapsed all whitespace, so no document contains a tab or a newline.
    header = f"# rnnlib stdlib corpus: {len(documents)} documents"
    atomic_write_text(path, "\n".join([header, *(f"{s}\t{d}" for s, d in documents)]))


def _build_in_fresh_interpreter(path: Path) -> None:
    """Run `write_corpus_file` in a new Python process.

    Docstrings are read from live objects, and a host process patches some of them
    (pytest replaces pdb.set_trace, Jupyter sys.excepthook), so only a fresh interpreter
    gives the same corpus everywhere; the caller is also spared some 350 imports.
    """
    if not sys.executable:  # an embedded interpreter that cannot start another one
        write_corpus_file(path)
        return
    package_root = str(Path(__file__).resolve().parents[2])  # the folder holding rnnlib/
    python_path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    code = "import sys; from rnnlib.data.builtin import write_corpus_file as w; w(sys.argv[1])"
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env={**os.environ, "PYTHONPATH": python_path},
        stdin=subprocess.DEVNULL,
        capture_output=True,  # whatever an import prints stays out of the caller's output
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building the built-in corpus failed:\n{result.stderr[-3000:]}")


def stdlib_documents(cache_dir=None, refresh=False) -> list[tuple[str, str]]:
    """(source, paragraph) pairs built from the running Python (built once, then cached)."""
    path = cache_file(cache_dir)
    if refresh or _read_cache(path) is None:
        _build_in_fresh_interpreter(path)
    documents = _read_cache(path)
    if documents is None:
        raise RuntimeError(f"the built-in corpus cache {path} could not be written or read back")
    return documents


# --- the corpus -----------------------------------------------------------------------


def builtin_corpus(*, live: bool = False, cache_dir=None, refresh: bool = False) -> list[str]:
    """English prose paragraphs from the standard library's documentation.

    By default the frozen copy shipped with rnnlib (the same for everyone; see
    `rnnlib.data.frozen`). With `live=True`, built from the Python running this code and
    cached in `cache_dir` (else $RNNLIB_CACHE_DIR, else ~/.cache/rnnlib); `refresh=True`
    rebuilds the cache.
    """
    if not live:
        if cache_dir is not None or refresh:
            raise ValueError("cache_dir and refresh apply to the live corpus: pass live=True")
        return list(frozen_corpus().documents)
    return [document for _, document in stdlib_documents(cache_dir, refresh)]
