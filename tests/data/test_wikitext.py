"""WikiText: the `= Heading =` format, the named download, its own split (rnnlib.data.wikitext).

No network: a real HTTP server on 127.0.0.1 serves a small zip in WikiText's layout. Its
articles are short enough to count by hand; the expected values below are those counts.
"""

import hashlib
import http.server
import io
import math
import threading
import warnings
import zipfile

import pytest

from rnnlib.data import wikitext
from rnnlib.data.corpus import DATASETS, RemoteDataset, download, load_named
from rnnlib.data.vocab import SENTENCE_END, SENTENCE_START, UNKNOWN_TOKEN
from rnnlib.data.wikitext import (
    UnpinnedDownloadWarning,
    load_wikitext,
    parse_wikitext,
    read_archive,
    wikitext_split,
)
from rnnlib.evaluation import ngram_baselines, score

# WikiText's layout: a space at each end of a line, blank lines around headings.
TRAIN = (
    " \n = Alpha = \n \n The cat sat . A <unk> ran ! \n \n = = History = = \n \n"
    " The dog sat on the mat . \n \n = Beta = \n \n Cats and dogs @-@ like <unk> \n \n"
)
VALID = " \n = Gamma = \n \n The cat ran . \n \n"
TEST = " \n = Delta = \n \n A dog sat . \n \n = = = Deep section = = = \n \n Mat ! \n"


def archive_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"wikitext-2/{name}", text)
    return buffer.getvalue()


ARCHIVE = archive_bytes(
    {"wiki.train.tokens": TRAIN, "wiki.valid.tokens": VALID, "wiki.test.tokens": TEST}
)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path != "/wikitext-2-v1.zip":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(ARCHIVE)))
        self.end_headers()
        self.wfile.write(ARCHIVE)

    def log_message(self, *args):
        pass


@pytest.fixture
def served(monkeypatch, tmp_path):
    """'wikitext-2' pointing at a local server; downloads go to tmp_path/data."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads, httpd.requests = True, []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/wikitext-2-v1.zip"
    dataset = RemoteDataset(url, None, "wikitext-2-v1.zip", load_wikitext, "test archive")
    monkeypatch.setitem(DATASETS, "wikitext-2", dataset)
    monkeypatch.setenv("RNNLIB_DATA_DIR", str(tmp_path / "data"))
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_titles_start_articles_and_section_headings_are_dropped():
    assert parse_wikitext(TRAIN) == [
        ("Alpha", ["The cat sat . A <unk> ran !", "The dog sat on the mat ."]),
        ("Beta", ["Cats and dogs @-@ like <unk>"]),
    ]
    assert parse_wikitext(TEST) == [("Delta", ["A dog sat .", "Mat !"])]  # === is a section


def test_text_before_the_first_title_is_refused():
    with pytest.raises(ValueError, match="before the first '= Title =' line: 'stray words'"):
        parse_wikitext(" stray words \n = Alpha = \n text \n")


def test_sentences_end_at_their_punctuation_and_unk_is_unknown_token():
    assert wikitext.sentences("A <unk> ran ! The end .") == [
        [SENTENCE_START, "a", UNKNOWN_TOKEN, "ran", "!", SENTENCE_END],
        [SENTENCE_START, "the", "end", ".", SENTENCE_END],
    ]
    # No final punctuation: the rest is a sentence; a long one is cut at max_length.
    assert len(wikitext.sentences("a b c d e", max_length=2)) == 3


def test_load_named_downloads_once_and_gives_the_training_articles(served, tmp_path):
    with pytest.warns(UnpinnedDownloadWarning, match=hashlib.sha256(ARCHIVE).hexdigest()):
        documents = load_named("wikitext-2", timeout=5)
    assert documents == [
        "Alpha\n\nThe cat sat . A <unk> ran !\n\nThe dog sat on the mat .",
        "Beta\n\nCats and dogs @-@ like <unk>",
    ]
    assert (tmp_path / "data" / "wikitext-2-v1.zip").read_bytes() == ARCHIVE
    with pytest.warns(UnpinnedDownloadWarning):
        assert load_named("wikitext-2", timeout=5) == documents
    assert served.requests == ["/wikitext-2-v1.zip"]  # the second read came from the cache


def test_a_recorded_sha256_silences_the_warning(served, monkeypatch):
    url, filename, _ = wikitext.ARCHIVES["wikitext-2"]
    monkeypatch.setitem(
        wikitext.ARCHIVES, "wikitext-2", (url, filename, hashlib.sha256(ARCHIVE).hexdigest())
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_named("wikitext-2", timeout=5)) == 2


def test_the_split_is_wikitexts_own_parts_with_a_vocabulary_from_train(served):
    with pytest.warns(UnpinnedDownloadWarning):
        split = wikitext_split(download("wikitext-2", timeout=5), vocabulary_size=8)
    # Training counts: the 3, "." 2, sat 2, then 1 each, ties in code-point order ("!" < "@").
    assert split.vocab.index_to_word == [
        SENTENCE_START, SENTENCE_END, "the", ".", "sat", "!", "@-@", UNKNOWN_TOKEN
    ]  # fmt: skip
    train, validation, test = split.parts
    assert (train.stats.sentences, train.stats.tokens, train.stats.documents) == (4, 21, 2)
    assert sorted(set(train.sources)) == ["Alpha", "Beta"]
    # <unk> counts as unknown: 2 of the 21 training words, plus 10 that C = 8 leaves out.
    assert train.stats.unknown_rate == pytest.approx(12 / 21)
    assert validation.tokens == [[SENTENCE_START, "the", "cat", "ran", ".", SENTENCE_END]]
    assert validation.stats.unknown_rate == pytest.approx(2 / 4)  # cat, ran
    assert (test.stats.sentences, test.stats.tokens) == (2, 6)


def test_the_split_takes_evaluate_and_the_kn_baselines_unchanged(served):
    with pytest.warns(UnpinnedDownloadWarning):
        split = wikitext_split(download("wikitext-2", timeout=5), vocabulary_size=8)
    bigram = ngram_baselines(split, orders=(2,))["KN bigram"]
    result = score(bigram, split, "validation")
    assert result.tokens == 5  # 4 words and SENTENCE_END, counted by hand
    assert 1 < result.perplexity < math.inf


def test_a_damaged_or_foreign_archive_names_the_file(tmp_path):
    broken = tmp_path / "wikitext-x.zip"
    broken.write_bytes(ARCHIVE[: len(ARCHIVE) // 2])
    with pytest.raises(ValueError, match=f"{broken} is not a readable WikiText zip archive"):
        read_archive(broken)
    foreign = tmp_path / "other.zip"
    foreign.write_bytes(archive_bytes({"wiki.train.tokens": TRAIN, "wiki.test.tokens": TEST}))
    with pytest.raises(ValueError, match=f"{foreign} has no wiki.valid.tokens"):
        read_archive(foreign)


def test_both_wikitexts_are_registered_with_their_licence():
    for name in ("wikitext-2", "wikitext-103"):
        dataset = DATASETS[name]
        assert dataset.url == f"https://wikitext.smerity.com/{name}-v1.zip"
        assert dataset.loader is load_wikitext and "CC BY-SA" in dataset.description
