"""The frozen corpus file: shipped, checked by its sha256, read the same in any environment.

Whether the file is what CPython 3.11.7 builds is checked in test_corpus.py, beside the
live build it needs.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlib.data import freeze, frozen
from rnnlib.data.frozen import CorpusFileError, frozen_corpus

ROOT = Path(__file__).resolve().parents[2]


def test_the_file_ships_inside_the_package_with_its_licence():
    assert frozen.PATH.parent == ROOT / "rnnlib" / "data"
    assert frozen.PATH.name == f"builtin_corpus_v{frozen.VERSION}.json.gz"
    assert frozen.PATH.stat().st_size < 3_000_000
    assert hashlib.sha256(frozen.PATH.read_bytes()).hexdigest() == frozen.SHA256
    notice = (frozen.PATH.parent / "LICENSE-PSF.txt").read_text(encoding="utf-8")
    assert "Python Software Foundation" in notice
    assert "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2" in notice
    content = json.loads(gzip.decompress(frozen.PATH.read_bytes()))
    assert content["python"].startswith("CPython 3.") and content["nltk"]
    assert "LICENSE-PSF.txt" in content["licence"]


def test_the_corpus_reads_back_documents_and_sentences_with_their_sources():
    corpus = frozen_corpus()
    assert corpus is frozen_corpus()  # read once per process
    assert corpus.version == frozen.VERSION
    assert len(corpus.documents) == len(corpus.document_sources) > 10_000
    assert len(corpus.sentences) == len(corpus.sentence_sources) > 15_000
    assert set(corpus.sentence_sources) <= set(corpus.sources) == set(corpus.document_sources)
    assert all(s.startswith(("topic:", "module:")) for s in corpus.sources)
    assert "Return the absolute value of the argument." in corpus.documents
    # Sentences are already lower-cased and split into words; the markers are not stored.
    assert ("return", "the", "absolute", "value", "of", "the", "argument", ".") in corpus.sentences
    words = {w for s in corpus.sentences for w in s}
    assert all(w == w.lower() and w.split() == [w] for w in words)
    assert not {"SENTENCE_START", "SENTENCE_END", "sentence_start"} & words


def _copy_with(tmp_path, transform) -> Path:
    path = tmp_path / frozen.FILENAME
    path.write_bytes(transform(frozen.PATH.read_bytes()))
    return path


def test_an_unchanged_copy_loads_and_a_modified_copy_is_refused(tmp_path):
    (tmp_path / "same").mkdir()
    copy = _copy_with(tmp_path / "same", lambda data: data)
    assert frozen_corpus(copy) == frozen_corpus()

    def one_word_changed(data: bytes) -> bytes:
        text = gzip.decompress(data).decode("utf-8").replace("absolute value", "absolute worth", 1)
        return freeze.compress(json.loads(text))

    for transform in [one_word_changed, lambda data: data[:-1] + bytes([data[-1] ^ 1])]:
        changed = _copy_with(tmp_path, transform)
        with pytest.raises(CorpusFileError, match="changed or damaged") as info:
            frozen_corpus(changed)
        assert str(changed) in str(info.value) and frozen.SHA256 in str(info.value)


def test_a_missing_file_or_another_kind_of_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.json.gz.*live=True"):
        frozen_corpus(tmp_path / "nowhere.json.gz")
    for data in [b"not gzip at all", gzip.compress(b'{"name": "something else"}')]:
        path = tmp_path / "other.json.gz"
        path.write_bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()  # the right hash, the wrong content
        with pytest.raises(CorpusFileError, match="other.json.gz is not a frozen corpus file"):
            frozen_corpus(path, sha256=sha256)


# Run here and in a child process with another hash seed, locale and working directory.
DIGEST = """
import hashlib, json
from rnnlib.data.benchmark import benchmark_split
from rnnlib.data.frozen import frozen_corpus

def digest():
    c = frozen_corpus()
    split = benchmark_split()
    parts = [[p.name, p.tokens, p.sources, [x.tolist() for x in p.X]] for p in split.parts]
    content = [c.documents, c.document_sources, c.sentences, split.vocab.index_to_word, parts]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest() + " " + str(hash("rnnlib"))
"""


def test_the_corpus_and_the_split_are_the_same_in_another_environment(tmp_path):
    namespace = {}
    exec(DIGEST, namespace)
    here = namespace["digest"]()
    env = {
        **os.environ,
        "PYTHONHASHSEED": "4242",
        "LC_ALL": "C",
        "PYTHONUTF8": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    child = subprocess.run(
        [sys.executable, "-c", DIGEST + "\nprint(digest())"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    there = child.stdout.split()
    assert there[1] != here.split()[1]  # the string hashes differed: another environment
    assert there[0] == here.split()[0]


def test_freeze_writes_the_layout_that_frozen_reads(tmp_path):
    documents = [
        ("topic:pets", "The cat sat on the mat. It was happy!"),
        ("module:zoo", 'Zoos keep animals. Some are "big".'),
        ("topic:pets", "Dogs bark."),
    ]
    content = freeze.corpus_content(documents)
    assert content["sources"] == ["topic:pets", "module:zoo"]
    assert [d["source"] for d in content["documents"]] == [0, 1, 0]
    data = freeze.compress(content)
    assert data == freeze.compress(content) and data[4:8] == b"\0\0\0\0"  # no time stamp
    path = tmp_path / "tiny.json.gz"
    path.write_bytes(data)
    corpus = frozen_corpus(path, sha256=hashlib.sha256(data).hexdigest())
    assert corpus.documents == tuple(text for _, text in documents)
    assert corpus.document_sources == ("topic:pets", "module:zoo", "topic:pets")
    assert corpus.sentences == (
        ("the", "cat", "sat", "on", "the", "mat", "."),
        ("it", "was", "happy", "!"),
        ("zoos", "keep", "animals", "."),
        ("some", "are", "``", "big", "''", "."),
        ("dogs", "bark", "."),
    )
    assert corpus.sentence_sources == ("topic:pets",) * 2 + ("module:zoo",) * 2 + ("topic:pets",)
    shutil.copy(path, tmp_path / "copy.json.gz")
    with pytest.raises(CorpusFileError):
        frozen_corpus(tmp_path / "copy.json.gz")  # the packaged hash, not this file's
