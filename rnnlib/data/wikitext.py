"""WikiText-2 and WikiText-103: Wikipedia articles with their own train/valid/test (beyond notebook 8).

Merity, Xiong, Bradbury and Socher (2016), "Pointer Sentinel Mixture Models": good and
featured Wikipedia articles, already tokenised, words outside the corpus' own vocabulary
replaced by `<unk>`. Licence: Creative Commons Attribution-ShareAlike (CC BY-SA 3.0), as
Wikipedia's text; share what you derive from it under the same terms. WikiText-2 has
about 2.1 M training words (~4 MB zipped), WikiText-103 about 103 M (~180 MB zipped): the
first corpus of the series that a laptop CPU cannot train an LSTM through in an evening
(README, "Beyond one machine").

The archive holds `wiki.train.tokens`, `wiki.valid.tokens` and `wiki.test.tokens`. In
each, a line ` = Title = ` starts an article, ` = = Section = = ` (two or more `=` on
each side) a section of it, and every other non-blank line is a paragraph of
space-separated tokens. `parse_wikitext` turns a file into documents (one per article).

`rnnlib.data.corpus` registers both archives as named downloads: `load_named("wikitext-2")`
gives the training articles as documents, `wikitext_split(download("wikitext-2"))` the
three parts.

How `<unk>` meets `Vocabulary`: `wikitext_split` lower-cases the tokens (as the series'
pipeline does) and reads `<unk>` as UNKNOWN_TOKEN; the vocabulary is then built as the
benchmark's is, the C - 3 most frequent training words (C = 8000 by default) plus the
three special tokens. Words WikiText kept but C does not become UNKNOWN_TOKEN as well.
Sentences end at the tokens `.`, `?` and `!`; section headings are left out (they are
not prose); an article's title names the source of its sentences.
"""

import re
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from rnnlib.data.benchmark import PARTS, BenchmarkSplit, make_part
from rnnlib.data.fetch import _file_sha256 as file_sha256
from rnnlib.data.vocab import (
    MAX_SENTENCE_LENGTH,
    SENTENCE_END,
    SENTENCE_START,
    UNKNOWN_TOKEN,
    Vocabulary,
)

WIKITEXT_UNKNOWN = "<unk>"  # WikiText's own unknown-word token
# The archive's file of each part, in PARTS order (train, validation, test).
PART_FILES = ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens")
SENTENCE_ENDS = frozenset({".", "?", "!"})

_TITLE = re.compile(r"= ([^=].*?) =")  # exactly one "=" on each side
_SECTION = re.compile(r"(= ){2,}.*?( =){2,}")


# name -> (URL, file name in the cache, sha256), registered by rnnlib.data.corpus as named
# downloads (this module imports nothing of corpus). The original S3 bucket is gone; the
# authors' mirror serves the same archives. The sha256 is recorded the first time an
# archive is fetched on a machine with a network; until then reading it warns.
ARCHIVES = {
    "wikitext-2": ("https://wikitext.smerity.com/wikitext-2-v1.zip", "wikitext-2-v1.zip", None),
    "wikitext-103": (
        "https://wikitext.smerity.com/wikitext-103-v1.zip",
        "wikitext-103-v1.zip",
        None,
    ),
}


class UnpinnedDownloadWarning(UserWarning):
    """A download was read without a recorded sha256 to check it against."""


def warn_if_unpinned(path) -> None:
    """Warn when `path` is an archive of ARCHIVES with no sha256 recorded, naming its own."""
    for name, (_, filename, sha256) in ARCHIVES.items():
        if sha256 is None and Path(path).name == filename:
            warnings.warn(
                f"{name}: no sha256 is recorded for {filename}, so {path} was not checked; "
                f"its sha256 is {file_sha256(path)}: record it in rnnlib.data.wikitext.ARCHIVES",
                UnpinnedDownloadWarning,
                stacklevel=2,
            )


# --- the file format ---------------------------------------------------------------------


def parse_wikitext(text: str) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of every article in a wiki.*.tokens text; section headings dropped."""
    articles = []
    for line in text.splitlines():
        line = line.strip()
        if not line or _SECTION.fullmatch(line):
            continue
        title = _TITLE.fullmatch(line)
        if title:
            articles.append((title.group(1), []))
        elif articles:
            articles[-1][1].append(line)
        else:
            raise ValueError(f"text before the first '= Title =' line: {line[:60]!r}")
    return articles


def as_documents(articles) -> list[str]:
    """One string per article: its title, then its paragraphs, separated by blank lines."""
    return ["\n\n".join([title, *paragraphs]) for title, paragraphs in articles]


def read_archive(path) -> list[list[tuple[str, list[str]]]]:
    """The articles of the train, validation and test files of a WikiText zip archive."""
    warn_if_unpinned(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            parts = []
            for wanted in PART_FILES:
                member = next((n for n in names if n.rsplit("/", 1)[-1] == wanted), None)
                if member is None:
                    raise ValueError(f"{path} has no {wanted}: is it a WikiText archive?")
                parts.append(parse_wikitext(archive.read(member).decode("utf-8")))
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a readable WikiText zip archive: {e}") from e
    return parts


def load_wikitext(path) -> list[str]:
    """The training articles of a WikiText archive as documents (what load_named returns).

    The validation and test articles stay out, so that a split made from these documents
    never meets them; `wikitext_split` gives all three parts.
    """
    return as_documents(read_archive(path)[0])


# --- sentences and the split ---------------------------------------------------------------


def sentences(paragraph: str, max_length: int = MAX_SENTENCE_LENGTH) -> list[list[str]]:
    """A paragraph's sentences as SENTENCE_START word ... SENTENCE_END, `<unk>` as UNKNOWN_TOKEN.

    A sentence ends after `.`, `?` or `!`; one longer than max_length words is cut.
    """
    result, words = [], []
    for token in paragraph.split():
        words.append(UNKNOWN_TOKEN if token == WIKITEXT_UNKNOWN else token.lower())
        if token in SENTENCE_ENDS or len(words) == max_length:
            result.append([SENTENCE_START, *words, SENTENCE_END])
            words = []
    if words:
        result.append([SENTENCE_START, *words, SENTENCE_END])
    return result


def _sentences_and_sources(articles) -> tuple[list[list[str]], list[str]]:
    tokens, sources = [], []
    for title, paragraphs in articles:
        for paragraph in paragraphs:
            found = sentences(paragraph)
            tokens += found
            sources += [title] * len(found)
    return tokens, sources


def wikitext_split(path, vocabulary_size: int = 8000, seed: int = 0) -> BenchmarkSplit:
    """WikiText's own train/valid/test of an archive as a BenchmarkSplit (vocabulary from train).

    `path`: the zip, e.g. rnnlib.data.corpus.download("wikitext-2"), which fetches it once.
    `evaluate`, the Kneser-Ney baselines and notebook 8's code take the split unchanged.

    Within each part the sentences come in a seeded random order, as in the benchmark
    split, so `split.prefix(train=...)` takes a fair sample.
    """
    rng = np.random.default_rng(seed)
    parts = [_sentences_and_sources(articles) for articles in read_archive(path)]
    vocab = Vocabulary.build(parts[0][0], vocabulary_size)
    if len(vocab) < vocabulary_size:
        raise ValueError(
            f"vocabulary_size={vocabulary_size}, but the training part of {path} has only "
            f"{len(vocab) - 3} distinct words: at most {len(vocab)} is possible"
        )
    made = []
    for name, (tokens, sources) in zip(PARTS, parts, strict=True):
        if not tokens:
            raise ValueError(f"{path}: the {name} part has no sentences")
        order = rng.permutation(len(tokens))
        made.append(make_part(name, [tokens[i] for i in order], [sources[i] for i in order], vocab))
    return BenchmarkSplit(vocab, *made, seed=seed)
