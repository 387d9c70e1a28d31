"""The built-in corpus, frozen in one data file: the same text on every Python (notebook 1).

Docstrings differ between Python versions and builds, and nltk's sentence splitter
between nltk versions, so a corpus built on the learner's machine is not the one the
notebooks were run on. `builtin_corpus_v1.json.gz`, beside this module, fixes it:
what `rnnlib.data.builtin` built from CPython 3.11.7's documentation, each paragraph
(a document) with its source ("topic:assert" for `help("assert")`, "module:os.path"
for a module's docstrings) and its sentences, already lower-cased, split by Punkt
(trained on this text) and into words by the Treebank rules. Its sha256 is checked
when it is read, so a damaged or edited copy is an error, never a different corpus.

The text is derived from the Python documentation, (c) Python Software Foundation, and
is used under the PSF License Agreement: see LICENSE-PSF.txt beside this module.
`python -m rnnlib.data.freeze` wrote it; a changed corpus is a new version (a new file
name and hash), never an edit of this one.

Layout (gzip-compressed JSON):

    {"name": "rnnlib built-in corpus", "version": 1, "python": "CPython 3.11.7",
     "nltk": "3.10.4", "built_by": "python -m rnnlib.data.freeze", "licence": "...",
     "sources": ["topic:assert", ...],
     "documents": [{"source": 0, "text": "Assert statements ...",
                    "sentences": ["assert statements are a convenient way ...", ...]}, ...]}

`source` indexes `sources`. A sentence is its words joined by single spaces (no word
contains one); the markers SENTENCE_START and SENTENCE_END are not stored.
"""

import functools
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

VERSION = 1
FILENAME = f"builtin_corpus_v{VERSION}.json.gz"
PATH = Path(__file__).with_name(FILENAME)
# The sha256 of the file's bytes (what `sha256sum` prints), written down when it was built.
SHA256 = "b9447211cd7769f874179cc44ce5efc8942afd2c2372c54e30695947359ee911"
NAME = "rnnlib built-in corpus"


class CorpusFileError(ValueError):
    """The frozen corpus file is damaged, edited, or not a corpus file."""


@dataclass(frozen=True)
class FrozenCorpus:
    """The frozen corpus, read back: documents and sentences, each with its source."""

    version: int
    python: str  # the Python whose documentation it is: "CPython 3.11.7"
    nltk: str  # the nltk that split and tokenised it
    documents: tuple[str, ...]  # paragraphs, in order: what builtin_corpus() returns
    document_sources: tuple[str, ...]  # the source of each document
    sentences: tuple[tuple[str, ...], ...]  # the words of each sentence, no markers
    sentence_sources: tuple[str, ...]  # the source of each sentence

    @property
    def sources(self) -> tuple[str, ...]:
        """The distinct sources, in corpus order."""
        return tuple(dict.fromkeys(self.document_sources))

    def __repr__(self) -> str:
        words = sum(map(len, self.sentences))
        return (
            f"FrozenCorpus(v{self.version} from {self.python}: {len(self.sources)} sources, "
            f"{len(self.documents)} documents, {len(self.sentences)} sentences, {words} words)"
        )


def frozen_corpus(path=None, sha256: str | None = None) -> FrozenCorpus:
    """The frozen corpus (the packaged file unless `path`), its sha256 checked; read once."""
    path = PATH if path is None else Path(path)
    return _read(str(Path(path).resolve()), SHA256 if sha256 is None else sha256)


@functools.cache  # immutable result, so every caller can share it
def _read(path: str, sha256: str) -> FrozenCorpus:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: the frozen corpus file is missing; reinstall rnnlib "
            "(or use builtin_corpus(live=True) to build the corpus from your own Python)"
        ) from None
    except OSError as e:  # a directory in its place, no permission to read it
        raise CorpusFileError(
            f"{path}: the frozen corpus file cannot be read ({e.strerror or e}); reinstall rnnlib"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise CorpusFileError(
            f"{path}: sha256 {actual}, expected {sha256}. The frozen corpus file was "
            "changed or damaged; reinstall rnnlib to get the original back"
        )
    try:
        content = json.loads(gzip.decompress(data).decode("utf-8"))
        return from_json(content)
    except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError) as err:
        raise CorpusFileError(f"{path} is not a frozen corpus file: {err}") from None


def from_json(content: dict) -> FrozenCorpus:
    """A FrozenCorpus from the decoded JSON layout above."""
    if content["name"] != NAME:
        raise ValueError(f"expected name {NAME!r}, found {content['name']!r}")
    sources = content["sources"]
    documents, document_sources, sentences, sentence_sources = [], [], [], []
    for document in content["documents"]:
        source = sources[document["source"]]
        documents.append(document["text"])
        document_sources.append(source)
        for sentence in document["sentences"]:
            sentences.append(tuple(sentence.split(" ")))
            sentence_sources.append(source)
    return FrozenCorpus(
        version=content["version"],
        python=content["python"],
        nltk=content["nltk"],
        documents=tuple(documents),
        document_sources=tuple(document_sources),
        sentences=tuple(sentences),
        sentence_sources=tuple(sentence_sources),
    )
