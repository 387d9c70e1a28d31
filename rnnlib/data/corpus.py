"""Text sources: the built-in corpus, the original Reddit CSV, any text file, named downloads (notebook 1).

Every source returns a list of documents (strings); `rnnlib.data.vocab` turns them into
sentences and tokens. Nothing here needs the network except `download`/`load_named`,
and those fail with an error that says how to do the same thing by hand.
"""

import csv
import hashlib
import html
import io
import os
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnlib.data.builtin import CACHE_ENV, builtin_corpus
from rnnlib.data.fetch import DownloadError, fetch
from rnnlib.data.grammar import SyntheticGrammar, grammar_entropy, synthetic_corpus
from rnnlib.data.wikitext import ARCHIVES as WIKITEXT_ARCHIVES
from rnnlib.data.wikitext import load_wikitext
from rnnlib.interface import check_path, check_positive_number

__all__ = [
    "DATASETS",
    "RemoteDataset",
    "DownloadError",
    "SyntheticGrammar",
    "builtin_corpus",
    "download",
    "grammar_entropy",
    "load_named",
    "load_reddit_csv",
    "load_text_file",
    "synthetic_corpus",
]

DATA_ENV = "RNNLIB_DATA_DIR"


# --- reading local files ----------------------------------------------------------------


def _read_utf8(path, missing_hint: str) -> str:
    """The text of a UTF-8 file; clear errors for a missing, undecodable or empty file."""
    path = check_path(path, "path", "a file path")
    if path.is_dir():
        raise ValueError(f"{path} is a directory: expected a UTF-8 text file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file. {missing_hint}") from None
    except OSError as err:
        raise OSError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text: the byte 0x{data[err.start]:02x} at byte offset "
            f"{err.start} cannot be decoded; re-save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the text
    if not text.strip():
        raise ValueError(f"{path} is empty: expected some text")
    return text


def load_reddit_csv(path) -> list[str]:
    """Comment bodies from a CSV file with a `body` column (the original tutorial's format)."""
    hint = (
        "Get the original file with load_named('reddit-comments-2015-08'), or download it by "
        f"hand from {DATASETS['reddit-comments-2015-08'].url} and pass its local path."
    )
    text = _read_utf8(path, hint)
    # strict: an unclosed quote is an error, not a comment that swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    # No field is longer than the file: a long comment must not be "larger than field limit".
    # The limit is process-wide, so it is put back afterwards.
    field_limit = csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        header = next(reader)
        columns = [name.strip().lower() for name in header]
        if "body" not in columns:
            raise ValueError(f"{path}: no 'body' column; the header row has columns {header}")
        body = columns.index("body")
        comments, start = [], reader.line_num + 1  # start: the line where the next row begins
        for row in reader:
            row_start, start = start, reader.line_num + 1
            if not row:
                continue  # a blank line between records
            if len(row) != len(header):  # an unquoted comma or quote splits a comment
                raise ValueError(
                    f"{path}, line {row_start}: a row with {len(row)} fields, expected "
                    f"{len(header)} as in the header {header}; quote a field that holds "
                    f'a comma or a quote ("...", with "" for a quote inside it)'
                )
            comment = html.unescape(row[body]).strip()  # "&gt;" -> ">", "&amp;" -> "&"
            if comment:
                comments.append(comment)
    except csv.Error as err:
        raise ValueError(f"{path}, line {reader.line_num}: malformed CSV ({err})") from None
    finally:
        csv.field_size_limit(field_limit)
    if not comments:
        raise ValueError(f"{path}: the 'body' column is empty in every row")
    return comments


def load_text_file(path) -> list[str]:
    """Paragraphs (separated by blank lines) of a UTF-8 plain-text file."""
    hint = f"Check the path, or fetch a named text with load_named(name), name one of {_names()}."
    text = _read_utf8(path, hint).replace("\r\n", "\n").replace("\r", "\n")
    return [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]


# --- named downloads ----------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteDataset:
    """A text file on the web: where it is, its checksum (None if unknown), how to read it."""

    url: str
    sha256: str | None
    filename: str
    loader: Callable[[Path], list[str]]
    description: str


DATASETS: dict[str, RemoteDataset] = {
    "reddit-comments-2015-08": RemoteDataset(
        url="https://raw.githubusercontent.com/dennybritz/rnn-tutorial-rnnlm/master/data/"
        "reddit-comments-2015-08.csv",
        sha256=None,  # not published; the file is read as CSV and checked by the loader
        filename="reddit-comments-2015-08.csv",
        loader=load_reddit_csv,
        description="Reddit comments of August 2015: the data of the original WildML tutorial.",
    ),
    "tiny-shakespeare": RemoteDataset(
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
        "input.txt",
        # 1,115,394 bytes; the same checksum is recorded by tensorflow_datasets.
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        filename="tiny-shakespeare.txt",
        loader=load_text_file,
        description="About 1 MB of Shakespeare's plays, from Karpathy's char-rnn.",
    ),
    # Licence CC BY-SA 3.0 (rnnlib.data.wikitext): load_named gives the training articles.
    **{
        name: RemoteDataset(
            url=url,
            sha256=sha256,  # None until recorded: reading the archive then warns
            filename=filename,
            loader=load_wikitext,
            description=f"{name}: Wikipedia articles, tokenised, CC BY-SA 3.0 (Merity et al.).",
        )
        for name, (url, filename, sha256) in WIKITEXT_ARCHIVES.items()
    },
}


def _names() -> str:
    return ", ".join(repr(name) for name in DATASETS)


def data_dir(path=None) -> Path:
    """Download directory: `path`, else $RNNLIB_DATA_DIR, else <cache dir>/downloads."""
    if path is not None:
        return check_path(path, "cache_dir", "a directory path")
    path = os.environ.get(DATA_ENV)
    if path == "":  # an empty path would mean the current directory: never what was meant
        raise ValueError(
            f"{DATA_ENV} is set but empty: expected a directory path; unset it to use the "
            "default (<cache dir>/downloads)"
        )
    if path is None:
        path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rnnlib") / "downloads"
    return Path(path).expanduser()


def _resolve(name_or_url: str, sha256: str | None) -> tuple[str, str | None, str, str]:
    """(url, expected sha256, file name, how to load it by hand) for a dataset name or a URL."""
    if not isinstance(name_or_url, str):
        raise TypeError(f"expected a dataset name or URL (str), got {type(name_or_url).__name__}")
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", str(sha256)):
        raise ValueError(f"sha256={sha256!r}: expected 64 hexadecimal digits")
    if name_or_url in DATASETS:
        dataset = DATASETS[name_or_url]
        expected = (sha256 or dataset.sha256 or "").lower() or None
        return dataset.url, expected, dataset.filename, f"{dataset.loader.__name__}(path)"
    scheme = urllib.parse.urlparse(name_or_url).scheme
    if scheme and scheme not in ("http", "https") and "://" in name_or_url:
        raise ValueError(
            f"{name_or_url!r}: a {scheme}:// URL; expected an http:// or https:// URL, or one of "
            f"{_names()}"
        )
    if not re.match(r"https?://", name_or_url):
        raise ValueError(
            f"unknown dataset {name_or_url!r}: expected an http:// or https:// URL or one of "
            f"{_names()}"
        )
    # Prefix a hash of the URL, so that two different .../input.txt do not collide.
    basename = Path(urllib.parse.urlparse(name_or_url).path).name
    basename = re.sub(r"[^\w.-]", "_", basename).lstrip(".") or "download"
    url_hash = hashlib.sha256(name_or_url.encode()).hexdigest()[:12]
    hint = "load_reddit_csv(path) (Reddit CSV) or load_text_file(path) (plain text)"
    return name_or_url, sha256 and sha256.lower(), f"{url_hash}-{basename}", hint


def download(
    name_or_url: str, sha256=None, cache_dir=None, timeout: float = 30, deadline: float = 300
) -> Path:
    """Path of the cached file for a dataset name or URL, downloading it first if needed.

    `timeout` bounds each network read and `deadline` the whole download, in seconds.
    """
    url, expected, filename, hint = _resolve(name_or_url, sha256)
    timeout = check_positive_number(timeout, "timeout")
    deadline = check_positive_number(deadline, "deadline")
    target = data_dir(cache_dir) / filename
    by_hand = f"fetch {url} by hand (browser, another machine) and pass its local path to {hint}"
    return fetch(url, target, expected, timeout, deadline, by_hand)


def load_named(name: str, **download_kwargs) -> list[str]:
    """Download a dataset from DATASETS (once) and read it with its loader."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {_names()}")
    return DATASETS[name].loader(download(name, **download_kwargs))
