"""Fetching one URL into a cache file: atomic, checksummed, with a deadline (notebook 1).

`rnnlib.data.corpus.download` names what to fetch and where; this module does the fetching.
Each failure says what it is: the network (offline, HTTP error, too slow, cut short, corrupted)
is a `DownloadError`; the file system (read-only, full, a file where a directory should be) is
"cannot write PATH: reason", so a full disk is never reported as being offline.
"""

import contextlib
import hashlib
import http.client
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from rnnlib._io import atomic_path

_CHUNK = 1 << 16


class DownloadError(OSError):
    """A named dataset or URL could not be fetched (offline, HTTP error, too slow, truncated, bad checksum)."""


def fetch(url: str, target: Path, sha256, timeout: float, deadline: float, by_hand: str) -> Path:
    """`target`, holding the body of `url`: the cached copy if its sha256 matches, else fetched."""
    if target.is_file():
        if sha256 is None or _file_sha256(target) == sha256:
            return target  # a cache hit never touches the network
        with _file_errors(target):
            target.unlink(missing_ok=True)  # a stale or damaged copy: fetch it again
    with _file_errors(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True)
    # The file is made before the request, so that a read-only cache costs no download.
    with _file_errors(target), atomic_path(target, suffix=".part") as part:
        digest = hashlib.sha256()
        # closing: a failed write hangs up at once, not when the generator is collected.
        with (
            open(part, "wb") as file,
            contextlib.closing(_body(url, timeout, deadline, by_hand)) as body,
        ):
            for chunk in body:
                file.write(chunk)
                digest.update(chunk)
        # Raising here removes the partial file: nothing half-done stays in the cache.
        if sha256 is not None and digest.hexdigest() != sha256:
            raise DownloadError(
                f"download of {url} is corrupted: sha256 {digest.hexdigest()}, expected "
                f"{sha256}. Try again, or {by_hand}."
            )
    return target


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Deadline:
    """Shuts every connection of one download once `seconds` have passed since it started.

    The per-read `timeout` cannot catch a server that sends one byte a second: each read
    gets its byte in time. Shutting the socket from a timer thread ends the blocked read,
    wherever it is (connecting, headers, body).
    """

    def __init__(self, seconds: float):
        self.seconds, self.expired, self.sockets = seconds, False, []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self.sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self.sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the plain socket's shutdown, also under TLS
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's opener, with every connection it makes watched by this deadline."""
        watch = self.watch

        class Watched:
            def do_open(self, http_class, req, **kwargs):
                class Connection(http_class):
                    def connect(self):
                        super().connect()
                        watch(self.sock)

                return super().do_open(Connection, req, **kwargs)

        handlers = [type("HTTP", (Watched, urllib.request.HTTPHandler), {})()]
        if hasattr(urllib.request, "HTTPSHandler"):  # absent when Python has no ssl
            handlers.append(type("HTTPS", (Watched, urllib.request.HTTPSHandler), {})())
        return urllib.request.build_opener(*handlers)


def _body(url: str, timeout: float, deadline: float, by_hand: str) -> Iterator[bytes]:
    """The body of `url` chunk by chunk; any network failure or the deadline is a DownloadError."""
    size, declared = 0, None
    with _Deadline(deadline) as clock:
        try:
            with clock.opener().open(url, timeout=timeout) as response:
                length = response.headers.get("Content-Length", "")
                declared = int(length) if length.isdigit() else None
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    yield chunk
        except urllib.error.HTTPError as err:
            err.close()  # it holds the response and its socket
            raise DownloadError(
                f"could not download {url}: HTTP {err.code} {err.reason}. You can also {by_hand}."
            ) from err
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            if not clock.expired:
                reason = getattr(err, "reason", None) or err
                raise DownloadError(
                    f"could not download {url} ({reason}). If you are offline, {by_hand}."
                ) from err
    got = f"{size} of {declared}" if declared is not None else f"{size}"
    if clock.expired:  # a body cut by the deadline may look complete: never keep it
        raise DownloadError(
            f"download of {url} did not finish within deadline={deadline:g} s (got {got} "
            f"bytes): the server is too slow. Try again with a larger deadline, or {by_hand}."
        )
    if declared is not None and size != declared:
        raise DownloadError(
            f"download of {url} was cut short: got {got} bytes. Try again, or {by_hand}."
        )


@contextlib.contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """Report a file-system failure as what it is ("cannot write PATH: reason"), not as offline."""
    try:
        yield
    except DownloadError:
        raise
    except OSError as err:
        if str(err).startswith("cannot write "):  # already told so (rnnlib._io.atomic_path)
            raise
        reason = "not a directory" if isinstance(err, FileExistsError) else err.strerror or err
        raise OSError(f"cannot write {path}: {reason}") from err
