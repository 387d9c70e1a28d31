"""Write the frozen built-in corpus file from the running Python (notebook 1's data; a script).

    python -m rnnlib.data.freeze [OUTPUT]

builds the corpus from this Python's documentation exactly as `builtin_corpus(live=True)`
does (in a fresh interpreter), splits it into sentences with Punkt trained on the whole
text (never installed punkt data, so nothing but this text decides where sentences end),
tokenises each sentence as `rnnlib.data.vocab.tokenize` does, and writes the layout that
`rnnlib.data.frozen` reads: gzip level 9 without a time stamp, so the same Python and nltk
write the same bytes. The file records both versions. The script reads the file back,
checks it, and prints the sha256 to write into `rnnlib.data.frozen.SHA256`.

OUTPUT defaults to the packaged file of the current version (`frozen.PATH`); a corpus that
changes is a new version (bump `frozen.VERSION`, a new file name), so that what learners
already have never changes under them. The shipped v1 was built with CPython 3.11.7.
"""

import argparse
import gzip
import hashlib
import json
import platform
import tempfile

import nltk

from rnnlib._io import atomic_path
from rnnlib.data import frozen
from rnnlib.data.builtin import stdlib_documents
from rnnlib.data.vocab import split_sentences, tokenize, trained_sentence_splitter

LICENCE = (
    "Derived from the Python documentation (pydoc topics and standard-library docstrings), "
    "Copyright (c) 2001-2023 Python Software Foundation; All Rights Reserved. Used under the "
    "PSF License Agreement, Version 2: see LICENSE-PSF.txt beside this file."
)


def corpus_content(documents: list[tuple[str, str]]) -> dict:
    """The JSON layout of `rnnlib.data.frozen` for (source, paragraph) pairs, in order."""
    texts = [text for _, text in documents]
    splitter = trained_sentence_splitter(texts)
    sources = list(dict.fromkeys(source for source, _ in documents))
    index = {source: i for i, source in enumerate(sources)}
    records = []
    for source, text in documents:
        sentences = [tokenize(sentence) for sentence in split_sentences([text], splitter)]
        for words in sentences:
            if not words or any(not w or w != "".join(w.split()) for w in words):
                raise ValueError(f"{source}: a sentence has an empty word or a space: {words}")
        records.append(
            {"source": index[source], "text": text, "sentences": [" ".join(w) for w in sentences]}
        )
    return {
        "name": frozen.NAME,
        "version": frozen.VERSION,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "nltk": nltk.__version__,
        "built_by": "python -m rnnlib.data.freeze",
        "licence": LICENCE,
        "sources": sources,
        "documents": records,
    }


def compress(content: dict) -> bytes:
    """Compact JSON, gzip level 9, time stamp 0: the same content gives the same bytes."""
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rnnlib.data.freeze", description=__doc__)
    parser.add_argument("output", nargs="?", default=str(frozen.PATH), help="file to write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:  # a fresh build, never an old cache
        documents = stdlib_documents(cache_dir=cache)
    content = corpus_content(documents)
    data = compress(content)
    sha256 = hashlib.sha256(data).hexdigest()
    with atomic_path(args.output) as tmp:
        tmp.write_bytes(data)
    corpus = frozen.frozen_corpus(args.output, sha256=sha256)  # read back what was written
    assert corpus.documents == tuple(text for _, text in documents)
    print(
        f"wrote {args.output}: {len(data):,} bytes, from {content['python']}, nltk {nltk.__version__}"
    )
    print(corpus)
    print(f"sha256 {sha256}")
    if sha256 != frozen.SHA256:
        print("this is not the hash in rnnlib/data/frozen.py: put it there as SHA256")


if __name__ == "__main__":
    main()
