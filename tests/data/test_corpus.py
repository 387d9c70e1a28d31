"""Text sources: every loader against real files, downloads against a real local HTTP server."""

import collections
import contextlib
import csv
import hashlib
import http.server
import math
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nltk
import numpy as np
import pytest

from rnnlib.data import builtin, corpus, freeze, frozen, prose
from rnnlib.data.corpus import (
    DATASETS,
    DownloadError,
    RemoteDataset,
    SyntheticGrammar,
    builtin_corpus,
    download,
    grammar_entropy,
    load_named,
    load_reddit_csv,
    load_text_file,
    synthetic_corpus,
)
from rnnlib.data.prose import prose_paragraphs
from rnnlib.data.wikitext import load_wikitext


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """No test writes into the real ~/.cache: every default location points into tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RNNLIB_CACHE_DIR", str(tmp_path / "default-cache"))
    monkeypatch.delenv("RNNLIB_DATA_DIR", raising=False)


# --- the built-in corpus ---------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One cold build of the live built-in corpus into a fresh cache directory."""
    cache = tmp_path_factory.mktemp("stdlib-cache")
    return cache, builtin_corpus(live=True, cache_dir=cache)


def test_cleaning_keeps_prose_and_drops_code_tables_and_markup():
    text = """Frobnicate things
=================

Return the :func:`~os.path.join` of *parts*; see :ref:`the guide <frob-guide>`.
It uses ``sep`` between **all** of them.

Example::

    frob(a, b)
    if x:
        y = 1

>>> frob("a", "b")
'a/b'

.. versionchanged:: 3.2
   Accepts bytes now.

+------+-------+
| kind | value |
+======+=======+
| a    | 1     |
+------+-------+

* The first item of a list,
  wrapped onto two lines.
* The second item.

    x = frob(a)

A hanging sentence goes on
    on a further indented line.
"""
    assert prose_paragraphs(text) == [
        "Return the join of parts; see the guide. It uses sep between all of them.",
        "The first item of a list, wrapped onto two lines.",
        "The second item.",
        "A hanging sentence goes on on a further indented line.",
    ]


def test_cleaning_drops_pydoc_style_code_after_a_colon_and_grammar_rules():
    text = (
        "The simple form is equivalent to:\n\n   if __debug__:\n       raise AssertionError\n\n"
        '   assert_stmt ::= "assert" expression\n\nLater prose follows here.\n'
    )
    assert prose_paragraphs(text) == [
        "The simple form is equivalent to:",
        "Later prose follows here.",
    ]


def test_builtin_corpus_is_prose_without_code(built):
    _, documents = built
    assert len(documents) > 2000
    assert len(set(documents)) == len(documents)  # repeats are dropped
    code_like = re.compile(r">>>|::|^\s*def |\bdef \w+\(|:[a-z]+:`|`|\n")
    for document in documents:
        assert document == " ".join(document.split()), document  # one line, tidy spaces
        assert not code_like.search(document), document
        assert not document.rstrip().endswith(("::", ",")), document
    # Both sources are there: the language reference (help("assert")) and docstrings (abs).
    assert (
        "Assert statements are a convenient way to insert debugging assertions into a program:"
        in documents
    )
    assert "Return the absolute value of the argument." in documents


def test_modules_are_imported_silently_and_failures_skipped(tmp_path, monkeypatch, capfd):
    (tmp_path / "noisy_mod.py").write_text(
        "import sys, warnings\nprint('hello')\nprint('oops', file=sys.stderr)\n"
        "warnings.warn('careful')\n"
    )
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('cannot import')\n")
    (tmp_path / "exiting_mod.py").write_text("raise SystemExit(2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert builtin._quiet_import("noisy_mod").__name__ == "noisy_mod"
    assert builtin._quiet_import("broken_mod") is None
    assert builtin._quiet_import("exiting_mod") is None
    assert capfd.readouterr() == ("", "")


def test_builtin_corpus_cache_is_reused_and_refreshed(built, tmp_path, monkeypatch):
    built_cache, documents = built
    built_file = builtin.cache_file(built_cache)
    version = ".".join(map(str, sys.version_info[:3]))
    assert built_file.parent == built_cache and version in built_file.name
    assert builtin.builder_digest() in built_file.name
    assert list(built_cache.iterdir()) == [built_file]  # no temporary file left behind
    cache = tmp_path / "cache"  # a copy, so that this test leaves the shared build alone
    path = builtin.cache_file(cache)
    cache.mkdir()
    path.write_bytes(built_file.read_bytes())

    def no_rebuild(path):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(builtin, "_build_in_fresh_interpreter", no_rebuild)
    assert builtin_corpus(live=True, cache_dir=cache) == documents

    # Rebuilds run in this process from here on, from a stand-in corpus.
    monkeypatch.setattr(builtin, "_build_in_fresh_interpreter", builtin.write_corpus_file)
    monkeypatch.setattr(builtin, "build_stdlib_corpus", lambda: [("topic:x", "Fresh prose.")])
    assert builtin_corpus(live=True, cache_dir=cache, refresh=True) == ["Fresh prose."]
    assert builtin.stdlib_documents(cache) == [("topic:x", "Fresh prose.")]
    for damaged in [
        "# rnnlib stdlib corpus: 5 documents\ns\tOnly one.",
        "# rnnlib stdlib corpus: 1 documents\nno source",
    ]:
        path.write_text(damaged, encoding="utf-8")
        assert builtin_corpus(live=True, cache_dir=cache) == ["Fresh prose."]  # rebuilt


def test_the_cache_name_changes_with_the_cleaning_rules(tmp_path, monkeypatch):
    before = builtin.cache_file(tmp_path)
    (tmp_path / "prose.py").write_bytes(Path(prose.__file__).read_bytes() + b"# a new rule\n")
    (tmp_path / "builtin.py").write_bytes(Path(builtin.__file__).read_bytes())
    monkeypatch.setattr(builtin, "__file__", str(tmp_path / "builtin.py"))
    after = builtin.cache_file(tmp_path)
    assert after.parent == before.parent and after.name != before.name


def test_builtin_corpus_honours_the_environment_and_leaves_home_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RNNLIB_CACHE_DIR", str(tmp_path / "env-cache"))
    monkeypatch.setattr(builtin, "_build_in_fresh_interpreter", builtin.write_corpus_file)
    monkeypatch.setattr(builtin, "build_stdlib_corpus", lambda: [("a", "One."), ("b", "Two.")])
    assert builtin_corpus(live=True) == ["One.", "Two."]
    assert builtin.cache_file().parent == tmp_path / "env-cache"
    assert builtin.cache_file().is_file()
    assert not (tmp_path / "home").exists()


def test_builtin_corpus_is_the_same_when_built_again(built, tmp_path, monkeypatch):
    cache, documents = built
    # Another cold build, with another hash seed (so another order of sets and dicts of str).
    monkeypatch.setenv("PYTHONHASHSEED", "12345")
    assert builtin_corpus(live=True, cache_dir=tmp_path) == documents
    other = builtin.cache_file(tmp_path)
    assert other.read_bytes() == builtin.cache_file(cache).read_bytes()


def test_builtin_corpus_reports_a_failed_build(tmp_path, monkeypatch):
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'boom: no corpus today' >&2\nexit 3\n")
    fake_python.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake_python))
    with pytest.raises(RuntimeError, match="boom: no corpus today"):
        builtin_corpus(live=True, cache_dir=tmp_path / "cache")
    assert not builtin.cache_file(tmp_path / "cache").exists()


def test_builtin_corpus_builds_in_process_without_an_executable(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", "")
    monkeypatch.setattr(builtin, "build_stdlib_corpus", lambda: [("m", "In process.")])
    assert builtin_corpus(live=True, cache_dir=tmp_path) == ["In process."]
    assert builtin.cache_file(tmp_path).is_file()


def test_builtin_corpus_is_the_frozen_file_by_default_and_builds_nothing(tmp_path, monkeypatch):
    def no_build(path):
        raise AssertionError("the default corpus is the frozen file: nothing to build")

    monkeypatch.setattr(builtin, "_build_in_fresh_interpreter", no_build)
    documents = builtin_corpus()
    assert documents == list(frozen.frozen_corpus().documents)
    documents.clear()  # the caller's own list: the shared copy is untouched
    assert len(builtin_corpus()) == len(frozen.frozen_corpus().documents) > 10_000
    assert not (tmp_path / "default-cache").exists()
    with pytest.raises(ValueError, match="live=True"):
        builtin_corpus(cache_dir=tmp_path)
    with pytest.raises(ValueError, match="live=True"):
        builtin_corpus(refresh=True)


def test_frozen_file_is_what_this_python_builds(built):
    """The shipped file is the live corpus of the Python it names, and the script rebuilds it.

    A change to the cleaning rules fails this test on that Python: freeze a new version.
    """
    cache, _ = built
    shipped = frozen.frozen_corpus()
    this_python = f"{platform.python_implementation()} {platform.python_version()}"
    if shipped.python != this_python:
        pytest.skip(f"the frozen corpus comes from {shipped.python}, this is {this_python}")
    live = builtin.stdlib_documents(cache)  # the cache that `built` wrote
    assert live == list(zip(shipped.document_sources, shipped.documents, strict=True))
    if shipped.nltk != nltk.__version__:
        pytest.skip(f"the sentences were split by nltk {shipped.nltk}, this is {nltk.__version__}")
    data = freeze.compress(freeze.corpus_content(live))
    assert hashlib.sha256(data).hexdigest() == frozen.SHA256


# --- the Reddit CSV format ---------------------------------------------------------------


def test_load_reddit_csv_reads_quoted_multiline_comments(tmp_path):
    path = tmp_path / "comments.csv"
    path.write_bytes(
        b'id,body,score\n1,"Plain comment.",3\n'
        b'2,"Two lines:\nsecond line, with a comma.",5\n'
        b'3,"She said ""hi"" &amp; left &gt; 5 times.",1\n'
        b'4,"   ",0\n'
        b"5,caf\xc3\xa9 &#39;unquoted&#39;,2\n"
    )
    assert load_reddit_csv(path) == [
        "Plain comment.",
        "Two lines:\nsecond line, with a comma.",
        'She said "hi" & left > 5 times.',
        "café 'unquoted'",
    ]


def test_load_reddit_csv_round_trips_what_csv_writer_wrote(tmp_path):
    comments = ['a "quoted" word', "line one\r\nline two", "semi;colon, comma", "x" * 5000]
    path = tmp_path / "written.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_ALL)
        writer.writerow(["body"])
        writer.writerows([c] for c in comments)
    assert load_reddit_csv(path) == comments


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"text,score\nhello,1\n", r"no 'body' column.*\['text', 'score'\]"),
        (b"body\n", "empty in every row"),
        (b'body\n"never closed\n', "line 2.*malformed CSV"),
        (b"id,score,body\n1,2\n", "line 2: a row with 2 fields"),
    ],
)
def test_load_reddit_csv_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        load_reddit_csv(path)
    assert str(path) in str(info.value)


def test_load_reddit_csv_names_the_path_and_offset_of_a_non_utf8_byte(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"body\ncaf\xe9 au lait\n")
    with pytest.raises(ValueError, match=r"latin1\.csv is not UTF-8.*0xe9.*offset 8"):
        load_reddit_csv(path)


def test_load_reddit_csv_missing_file_suggests_the_download(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(FileNotFoundError, match="reddit-comments-2015-08") as info:
        load_reddit_csv(path)
    assert str(path) in str(info.value)
    assert DATASETS["reddit-comments-2015-08"].url in str(info.value)


@pytest.mark.parametrize(
    "content, line, fields",
    [
        # An unquoted comma splits a comment: once, this kept only "I agree" and lost the rest.
        (b'id,body\n1,"Fine, quoted."\n2,I agree, mostly\n', 3, 3),
        (b'id,body,score\n1,"Fine.",3\n2,"No score"\n', 3, 2),  # one field short
        # The bad record starts on line 4, after a comment that spans lines 2 and 3.
        (b'id,body\n1,"two\nlines"\n2,"a","b"\n', 4, 3),
    ],
)
def test_load_reddit_csv_rejects_a_row_whose_fields_do_not_match_the_header(
    tmp_path, content, line, fields
):
    path = tmp_path / "ragged.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load_reddit_csv(path)
    message = str(info.value)
    assert f"{path}, line {line}: a row with {fields} fields" in message
    assert "the header" in message and "expected" in message


def test_load_reddit_csv_reads_a_comment_over_128_kb(tmp_path):
    # csv's default field limit is 131072 characters; one long comment rejected the whole file.
    words = ["the", "thread", "about", "rivers", "was", "long", "and", "kind"]
    huge = " ".join(words[i % len(words)] for i in range(40_000)) + "."  # about 160 KB
    assert len(huge) > 150_000
    comments = ["A short one.", huge, 'And a "quoted" one.']
    path = tmp_path / "long.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "body"])
        writer.writerows([i, c] for i, c in enumerate(comments))
    limit = csv.field_size_limit()
    assert load_reddit_csv(path) == comments
    assert csv.field_size_limit() == limit  # the process-wide setting is left as it was


@pytest.mark.parametrize("loader", [load_text_file, load_reddit_csv])
def test_loaders_name_a_directory_or_a_non_path(tmp_path, loader):
    with pytest.raises(ValueError) as info:
        loader(tmp_path)
    assert f"{tmp_path} is a directory" in str(info.value) and "expected a" in str(info.value)
    for value in (None, 42):
        with pytest.raises(TypeError, match=f"path must be a file path.*got {value!r}"):
            loader(value)
    with pytest.raises(ValueError, match="path is an empty string: expected a file path"):
        loader("")


# --- plain text -----------------------------------------------------------------------------


def test_load_text_file_splits_paragraphs_on_blank_lines(tmp_path):
    path = tmp_path / "play.txt"
    path.write_bytes(
        b"\xef\xbb\xbfFirst Citizen:\r\nBefore we proceed.\r\n\r\nAll:\nSpeak, speak.\n \t\n\n\nEnd."
    )
    assert load_text_file(path) == [
        "First Citizen:\nBefore we proceed.",
        "All:\nSpeak, speak.",
        "End.",
    ]


def test_load_text_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt.*tiny-shakespeare"):
        load_text_file(tmp_path / "missing.txt")
    (tmp_path / "blank.txt").write_text("\n   \n\t\n")
    with pytest.raises(ValueError, match="blank.txt is empty"):
        load_text_file(tmp_path / "blank.txt")
    (tmp_path / "binary.txt").write_bytes(b"ok\n\x80\x81")
    with pytest.raises(ValueError, match=r"binary\.txt is not UTF-8.*0x80.*offset 3"):
        load_text_file(tmp_path / "binary.txt")


# --- downloads, against a real HTTP server on 127.0.0.1 ---------------------------------------

GOOD = b"To be, or not to be.\n\nThat is the question.\n" * 50
CORRUPT = GOOD[:-2] + b"?\n"
CSV_BODY = b'body\n"First comment &amp; more."\n"Second comment."\n'
BIG = bytes(range(256)) * 4096  # 1 MiB
TRICKLE_SECONDS = 1.0


class _Handler(http.server.BaseHTTPRequestHandler):
    timeout = 10  # a stuck client cannot hold a server thread for ever

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path == "/good.txt":
            self._send(GOOD)
        elif self.path == "/comments.csv":
            self._send(CSV_BODY)
        elif self.path == "/corrupt.txt":
            self._send(CORRUPT)
        elif self.path == "/truncated.txt":
            # Promise more than is sent, then close: what a dropped connection looks like.
            self._send(GOOD[:100], length=len(GOOD))
            self.close_connection = True
        elif self.path == "/big.bin":
            self._send(BIG)
        elif self.path in ("/trickle-body.txt", "/trickle-headers.txt"):
            self._trickle()
        elif self.path == "/stall.txt":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.server.release.wait(timeout=10)
        else:
            self.send_error(404, "Not Found")

    def _trickle(self):
        """One byte a second, of the headers too or of the body only: every read gets data."""
        head = f"HTTP/1.0 200 OK\r\nContent-Length: {len(GOOD)}\r\n\r\n".encode()
        slow = head + GOOD if self.path == "/trickle-headers.txt" else GOOD
        try:
            if slow is GOOD:
                self.wfile.write(head)
            for i in range(len(slow)):
                self.wfile.write(slow[i : i + 1])
                if self.server.release.wait(timeout=TRICKLE_SECONDS):
                    return
        except OSError:
            pass  # the client hung up: what the deadline should make it do
        self.close_connection = True

    def _send(self, body, length=None):
        self.send_response(200)
        self.send_header("Content-Length", str(length if length is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep pytest's output clean


@pytest.fixture
def server():
    """A threaded HTTP server on a free local port; shut down when the test ends."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.requests = []
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_fetches_once_then_uses_the_cache(server, tmp_path):
    url = f"{server.url}/good.txt"
    path = download(url, sha256=_sha(GOOD), cache_dir=tmp_path, timeout=5)
    assert path.parent == tmp_path and path.read_bytes() == GOOD
    assert download(url, sha256=_sha(GOOD), cache_dir=tmp_path, timeout=5) == path
    assert download(url, cache_dir=tmp_path, timeout=5) == path
    assert server.requests == ["/good.txt"]  # the cache hits never reached the server
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_download_fetches_again_when_the_cached_copy_is_damaged(server, tmp_path):
    url = f"{server.url}/good.txt"
    path = download(url, sha256=_sha(GOOD), cache_dir=tmp_path, timeout=5)
    path.write_bytes(b"damaged")
    assert download(url, sha256=_sha(GOOD), cache_dir=tmp_path, timeout=5).read_bytes() == GOOD
    assert server.requests == ["/good.txt", "/good.txt"]


def test_download_rejects_a_truncated_response_and_keeps_nothing(server, tmp_path):
    with pytest.raises(
        DownloadError, match=rf"truncated.txt was cut short: got 100 of {len(GOOD)}"
    ):
        download(f"{server.url}/truncated.txt", cache_dir=tmp_path, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_download_rejects_a_wrong_checksum_and_keeps_nothing(server, tmp_path):
    url = f"{server.url}/corrupt.txt"
    with pytest.raises(DownloadError, match=f"corrupted: sha256 {_sha(CORRUPT)}"):
        download(url, sha256=_sha(GOOD), cache_dir=tmp_path, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_download_reports_http_errors(server, tmp_path):
    url = f"{server.url}/missing.txt"
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download(url, cache_dir=tmp_path, timeout=5)
    assert url in str(info.value) and "load_text_file" in str(info.value)
    assert isinstance(info.value, OSError)
    assert list(tmp_path.iterdir()) == []


def test_download_times_out_on_a_stalled_server(server, tmp_path):
    with pytest.raises(DownloadError, match="timed out"):
        download(f"{server.url}/stall.txt", cache_dir=tmp_path, timeout=0.3)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/trickle-body.txt", "/trickle-headers.txt"])
def test_download_stops_at_its_deadline_on_a_server_sending_one_byte_a_second(
    server, tmp_path, path
):
    # Each read gets a byte within the per-read timeout, so only the overall deadline can stop it.
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download(f"{server.url}{path}", cache_dir=tmp_path, timeout=2, deadline=2.5)
    elapsed = time.monotonic() - start
    assert 2.5 <= elapsed < 4.5
    message = str(info.value)
    assert f"{server.url}{path}" in message and "deadline=2.5" in message
    assert "offline" not in message
    assert list(tmp_path.iterdir()) == []


def test_download_rejects_a_bad_deadline(tmp_path):
    for deadline in (0, -1, float("nan"), "300"):
        with pytest.raises(
            ValueError, match=f"deadline must be a positive number, got {deadline!r}"
        ):
            download("http://127.0.0.1:9/x.txt", cache_dir=tmp_path, deadline=deadline)


def test_download_refuses_an_empty_data_dir(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty path once meant the current directory
    url = f"{server.url}/good.txt"
    monkeypatch.setenv("RNNLIB_DATA_DIR", "")
    with pytest.raises(ValueError, match="RNNLIB_DATA_DIR is set but empty: expected a directory"):
        download(url, timeout=5)
    with pytest.raises(ValueError, match="RNNLIB_DATA_DIR is set but empty"):
        corpus.data_dir()
    monkeypatch.delenv("RNNLIB_DATA_DIR")
    with pytest.raises(ValueError, match="cache_dir is an empty string: expected a directory"):
        download(url, cache_dir="", timeout=5)
    assert list(tmp_path.iterdir()) == [] and server.requests == []


def _mount(*args):
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def _mounted(target: Path, *args):
    """`mount *args target` for the block, or a skip saying why this machine cannot mount."""
    target.mkdir()
    try:
        _mount(*args, str(target))
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", "") or err
        pytest.skip(f"cannot mount here (needs root and mount(8)): {detail}")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True, timeout=30)


@pytest.fixture
def read_only_dir(tmp_path):
    """A real read-only directory: a bind mount remounted read-only (root ignores file modes)."""
    source = tmp_path / "source"
    source.mkdir()
    with _mounted(tmp_path / "read-only", "--bind", str(source)) as target:
        try:
            _mount("-o", "remount,ro,bind", str(target))
        except subprocess.SubprocessError as err:
            pytest.skip(f"cannot remount read-only here: {getattr(err, 'stderr', err)}")
        with pytest.raises(OSError, match="Read-only file system"):
            (target / "probe").write_text("x")
        yield target


@pytest.mark.parametrize("subdirectory", ["", "downloads"])
def test_download_into_a_read_only_cache_says_cannot_write(server, read_only_dir, subdirectory):
    cache = read_only_dir / subdirectory
    url = f"{server.url}/good.txt"
    with pytest.raises(OSError) as info:
        download(url, cache_dir=cache, timeout=5)
    message = str(info.value)
    assert not isinstance(info.value, DownloadError) and "offline" not in message
    assert re.match(rf"cannot write {re.escape(str(cache))}\S*: Read-only file system", message)
    assert server.requests == []  # nothing is fetched that could not be kept


def test_download_onto_a_full_disk_says_cannot_write_and_leaves_nothing(server, tmp_path):
    with _mounted(tmp_path / "small", "-t", "tmpfs", "-o", "size=64k", "tmpfs") as small:
        with pytest.raises(OSError) as info:
            download(f"{server.url}/big.bin", cache_dir=small, timeout=5)
        message = str(info.value)
        assert not isinstance(info.value, DownloadError) and "offline" not in message
        assert re.match(rf"cannot write {re.escape(str(small))}/\S*big.bin: No space left", message)
        assert list(small.iterdir()) == []  # the partial file is gone


def test_download_names_a_file_where_the_cache_directory_should_be(server, tmp_path):
    (tmp_path / "taken").write_text("a file, not a directory")
    for cache in (tmp_path / "taken", tmp_path / "taken" / "downloads"):
        with pytest.raises(OSError, match=rf"cannot write {re.escape(str(cache))}") as info:
            download(f"{server.url}/good.txt", cache_dir=cache, timeout=5)
        assert not isinstance(info.value, DownloadError)
    assert server.requests == []


def test_download_offline_names_the_url_and_the_local_path_alternative(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/comments.csv"
    monkeypatch.setitem(
        DATASETS, "offline-csv", RemoteDataset(url, None, "c.csv", load_reddit_csv, "test data")
    )
    with pytest.raises(DownloadError, match="offline") as info:
        load_named("offline-csv", cache_dir=tmp_path, timeout=2)
    assert url in str(info.value) and "load_reddit_csv(path)" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_load_named_downloads_into_the_data_dir_and_parses(server, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLIB_DATA_DIR", str(tmp_path / "data"))
    dataset = RemoteDataset(
        f"{server.url}/comments.csv", _sha(CSV_BODY), "comments.csv", load_reddit_csv, "test"
    )
    monkeypatch.setitem(DATASETS, "local-csv", dataset)
    assert load_named("local-csv", timeout=5) == ["First comment & more.", "Second comment."]
    assert (tmp_path / "data" / "comments.csv").read_bytes() == CSV_BODY
    # A checksum given by the caller overrides the dataset's.
    with pytest.raises(DownloadError, match="corrupted"):
        download("local-csv", sha256="0" * 64, cache_dir=tmp_path / "other", timeout=5)


def test_download_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="'tiny-shakespeare'") as info:
        load_named("tiny-shakspeare", cache_dir=tmp_path)
    assert all(repr(name) in str(info.value) for name in DATASETS)
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        download("nope", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="sha256='abc'"):
        download("tiny-shakespeare", sha256="abc", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="timeout must be a positive number, got 0"):
        download("http://127.0.0.1:9/x.txt", cache_dir=tmp_path, timeout=0)
    with pytest.raises(TypeError, match=r"got \w*Path"):
        download(Path("x.txt"), cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_directory_follows_argument_then_environment(tmp_path, monkeypatch):
    assert corpus.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert corpus.data_dir() == tmp_path / "default-cache" / "downloads"
    monkeypatch.setenv("RNNLIB_DATA_DIR", str(tmp_path / "data"))
    assert corpus.data_dir() == tmp_path / "data"
    monkeypatch.delenv("RNNLIB_DATA_DIR")
    monkeypatch.delenv("RNNLIB_CACHE_DIR")
    assert corpus.data_dir() == tmp_path / "home" / ".cache" / "rnnlib" / "downloads"


def test_named_datasets_are_well_formed():
    assert {"reddit-comments-2015-08", "tiny-shakespeare"} <= set(DATASETS)
    for name, dataset in DATASETS.items():
        assert dataset.url.startswith("https://"), name
        assert dataset.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", dataset.sha256), name
        loaders = {".csv": load_reddit_csv, ".zip": load_wikitext}
        expected_loader = loaders.get(Path(dataset.filename).suffix, load_text_file)
        assert dataset.loader is expected_loader, name
        assert dataset.description
    with pytest.raises(AttributeError):
        DATASETS["tiny-shakespeare"].url = "http://elsewhere"  # frozen


# --- the synthetic grammar --------------------------------------------------------------------

AMBIGUOUS = """
S -> A B [1.0]
A -> 'x' [0.5] | 'x' 'y' [0.5]
B -> 'y' 'z' [0.5] | 'z' [0.5]
"""


def test_ambiguous_grammar_sums_its_derivations_exactly():
    grammar = SyntheticGrammar(AMBIGUOUS)
    # By hand: x|yz and xy|z both give "x y z"; the other two derivations are unique.
    assert grammar.language() == pytest.approx(
        {("x", "y", "z"): 0.5, ("x", "z"): 0.25, ("x", "y", "y", "z"): 0.25}
    )
    assert grammar.sentence_entropy == pytest.approx(1.5 * math.log(2))
    assert grammar.expected_length == pytest.approx(0.5 * 4 + 0.25 * 3 + 0.25 * 5)
    assert grammar.entropy_per_token == pytest.approx(1.5 * math.log(2) / 4)


def _derivation_statistics(grammar: SyntheticGrammar):
    """Closed forms from the rules alone: entropy of a derivation, expected words, derivations."""
    pcfg = grammar.pcfg
    expected_uses = collections.defaultdict(float)  # how often each nonterminal is expanded
    expected_uses[pcfg.start()] = 1.0
    order, seen = [], set()

    def topological(symbol):
        if isinstance(symbol, str) or symbol in seen:
            return
        seen.add(symbol)
        for production in pcfg.productions(lhs=symbol):
            for child in production.rhs():
                topological(child)
        order.insert(0, symbol)

    topological(pcfg.start())
    entropy = words = 0.0
    for symbol in order:  # parents before children
        for production in pcfg.productions(lhs=symbol):
            p = production.prob()
            entropy -= expected_uses[symbol] * p * math.log(p)
            words += expected_uses[symbol] * p * sum(isinstance(c, str) for c in production.rhs())
            for child in production.rhs():
                if not isinstance(child, str):
                    expected_uses[child] += expected_uses[symbol] * p

    def count(symbol):
        if isinstance(symbol, str):
            return 1
        return sum(math.prod(count(c) for c in p.rhs()) for p in pcfg.productions(lhs=symbol))

    return entropy, words, count(pcfg.start())


def test_default_grammar_language_matches_closed_forms():
    grammar = SyntheticGrammar()
    language = grammar.language()
    assert math.fsum(language.values()) == pytest.approx(1.0, abs=1e-12)
    assert 300 <= len(language) <= 5000 and 30 <= len(grammar.words) <= 60
    derivation_entropy, expected_words, n_derivations = _derivation_statistics(grammar)
    # Unambiguous (one derivation per sentence), so sentence entropy = derivation entropy.
    assert n_derivations == len(language)
    assert grammar.sentence_entropy == pytest.approx(derivation_entropy, rel=1e-12)
    assert grammar.expected_length == pytest.approx(expected_words + 1, rel=1e-12)
    assert grammar_entropy() == pytest.approx(derivation_entropy / (expected_words + 1), rel=1e-12)
    assert 0 < grammar_entropy() < math.log(len(grammar.words) + 1)  # +1: SENTENCE_END
    assert all(w == w.lower() for w in grammar.words)


def test_samples_follow_the_enumerated_distribution():
    grammar = SyntheticGrammar()
    language = grammar.language()
    n = 200_000
    counts = collections.Counter(map(tuple, synthetic_corpus(n, seed=7)))
    assert set(counts) <= set(language)
    # Chi-square, with rare sentences pooled so every bin expects at least 5 draws.
    sentences = sorted(language, key=language.get, reverse=True)
    expected = np.array([language[s] * n for s in sentences])
    observed = np.array([counts[s] for s in sentences], dtype=float)
    common = expected >= 5
    exp_bins = np.append(expected[common], expected[~common].sum())
    obs_bins = np.append(observed[common], observed[~common].sum())
    chi2 = ((obs_bins - exp_bins) ** 2 / exp_bins).sum()
    dof = len(exp_bins) - 1
    assert chi2 < dof + 5 * math.sqrt(2 * dof)  # five standard deviations above the mean

    # The entropy, estimated from the samples alone (plug-in), and by Monte Carlo.
    freq = observed[observed > 0] / n
    lengths = np.array([len(s) + 1 for s in sentences])
    plug_in = -(freq * np.log(freq)).sum() / (observed @ lengths / n)
    assert plug_in == pytest.approx(grammar.entropy_per_token, abs=0.01)
    surprisal = -np.log([language[s] for s in sentences]) @ observed / n
    assert surprisal / grammar.expected_length == pytest.approx(
        grammar.entropy_per_token, abs=0.005
    )


def test_synthetic_corpus_is_reproducible_from_its_seed():
    first = synthetic_corpus(300, seed=1)
    assert first == synthetic_corpus(300, seed=1)
    assert first != synthetic_corpus(300, seed=2)
    assert synthetic_corpus(300, seed=np.random.default_rng(1)) == first
    assert all(isinstance(w, str) and w == w.lower() for s in first for w in s)
    assert synthetic_corpus(0, seed=1) == []


def test_synthetic_grammar_rejects_bad_input():
    with pytest.raises(ValueError, match="recursive.*S -> NP -> S"):
        SyntheticGrammar("S -> NP [1.0]\nNP -> 'a' [0.5] | 'a' S [0.5]")
    with pytest.raises(ValueError, match="summing to 0.9999"):
        SyntheticGrammar("S -> 'a' [0.5] | 'b' [0.4999]")
    with pytest.raises(ValueError, match="n_sentences=-1"):
        synthetic_corpus(-1, seed=0)
    with pytest.raises(ValueError, match="n_sentences=2.5"):
        synthetic_corpus(2.5, seed=0)


def test_corpus_module_reexports_the_builtin_corpus():
    assert corpus.builtin_corpus is builtin.builtin_corpus
