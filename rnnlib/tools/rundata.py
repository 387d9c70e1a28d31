"""The data of a CLI training run: chosen by options, loaded again on --resume, checked by checksum.

A run's data options (and the SHA-256 of its corpus file, when it has one) are saved in its
checkpoint's training state as `run["data"]`, written in the same atomic save as the
weights. Runs saved before that kept the options in `<checkpoint>.args.json`; they are
still read from there.
"""

import hashlib
import json
import re
from pathlib import Path

DATA_OPTIONS = ("corpus", "corpus_path", "sentences", "vocabulary_size", "seed")


class RunDataError(ValueError):
    """A saved run's data cannot be had again: options missing, or the corpus file changed."""


def load_data(corpus: str, corpus_path, sentences, vocabulary_size: int, seed: int, vocab=None):
    """Encoded (X, y), the Vocabulary (built here unless given) and validation (X, y) or None.

    "benchmark" is the series' one split (rnnlib.data.benchmark): its training part, its
    vocabulary (from the training part only) and its validation part, on which the run's
    loss is evaluated. The other corpora are evaluated on their training data.
    """
    if corpus == "benchmark":
        return _benchmark_data(sentences, vocabulary_size, vocab)
    from rnnlib.data import corpus as sources
    from rnnlib.data.vocab import (
        SENTENCE_END,
        SENTENCE_START,
        Vocabulary,
        build_xy,
        split_sentences,
        tokenize_sentences,
    )

    if corpus == "synthetic":  # token lists already: no sentence splitting to do
        words = sources.synthetic_corpus(sentences or 5000, seed=seed)
        tokens = [[SENTENCE_START, *w, SENTENCE_END] for w in words]
    else:
        loaders = {
            "builtin": lambda _: sources.builtin_corpus(),
            "text": sources.load_text_file,
            "reddit": sources.load_reddit_csv,
        }
        tokens = tokenize_sentences(split_sentences(loaders[corpus](corpus_path)))
        tokens = tokens[:sentences] if sentences else tokens
    vocab = Vocabulary.build(tokens, vocabulary_size) if vocab is None else vocab
    X, y = build_xy(vocab.encode(t) for t in tokens)
    return X, y, vocab, None


def _benchmark_data(sentences, vocabulary_size: int, vocab=None):
    """The benchmark split's training part (its first `sentences`), vocabulary, validation."""
    from rnnlib.data.benchmark import benchmark_split

    split = benchmark_split(vocabulary_size=vocabulary_size)
    if vocab is not None and vocab != split.vocab:
        raise ValueError(
            f"the checkpoint's vocabulary ({len(vocab)} words) is not the benchmark split's "
            f"({len(split.vocab)} words)"
        )
    train = split.train.prefix(sentences) if sentences else split.train
    return train.X, train.y, split.vocab, (split.validation.X, split.validation.y)


def args_file(checkpoint) -> Path:
    """Where runs saved before the data options moved into the checkpoint kept them."""
    from rnnlib.training.checkpoint import checkpoint_file

    path = checkpoint_file(checkpoint)
    return path.with_name(path.name + ".args.json")


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def saved_data_options(checkpoint) -> dict:
    """The data options of a checkpoint's run: inside it, or (older runs) in its .args.json."""
    run = checkpoint.training_state.get("run") or {}
    if isinstance(run, dict) and isinstance(run.get("data"), dict):
        saved = run["data"]
    else:
        legacy = args_file(checkpoint.path)
        try:
            saved = json.loads(legacy.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunDataError(
                f"{checkpoint.path} does not say which data it was trained on "
                f"(no data options inside it, and no {legacy})"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RunDataError(f"cannot read {legacy}: {e}") from e
        except RecursionError:
            raise RunDataError(f"cannot read {legacy}: JSON nested too deeply") from None
    missing = [k for k in DATA_OPTIONS if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise RunDataError(f"the saved data options of {checkpoint.path} lack {missing}")
    return saved


def check_same_corpus(saved: dict) -> None:
    """A resumed run must read the very corpus file it began with (same SHA-256)."""
    path, expected = saved.get("corpus_path"), saved.get("corpus_sha256")
    if path is None or expected is None:
        return  # the built-in or synthetic corpus, or a run saved before checksums were
    hex_digest = isinstance(expected, str) and re.fullmatch(r"[0-9a-f]{64}", expected)
    if not isinstance(path, str) or not hex_digest:
        raise RunDataError(
            f"the saved corpus_path {path!r} and corpus_sha256 {expected!r}: expected a path "
            "and 64 hexadecimal digits"
        )
    try:
        actual = file_sha256(path)
    except OSError as e:
        raise RunDataError(f"cannot read the run's corpus {path}: {e}") from e
    if actual != expected:
        raise RunDataError(
            f"{path} has changed since the run began (SHA-256 {actual[:12]}..., the run was "
            f"trained on {expected[:12]}...): resume needs the same corpus file"
        )
