"""Atomic file writes: a reader never sees a half-written file (notebooks 1 and 4).

A save writes a temporary file beside its target, `.{name}.{8 random characters}{suffix}.tmp`,
and renames it onto the target only when complete, so a crash or a full disk leaves the old
file as it was. A killed process (SIGKILL, power loss) cannot remove its temporary file;
the next save to the same target removes those more than an hour old (no save takes that
long, so none of them can still be in use). Errors name the target, never the temporary file.
"""

import errno
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STALE_AFTER_SECONDS = 3600
# Errors of writing a file (not, say, of the network a download reads from): reported
# as "cannot write {target}: {reason}".
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


def _temporary_name(path: Path) -> re.Pattern:
    """Names of the temporary files of saves to `path` (mkstemp's 8 characters of [a-z0-9_])."""
    name, extension = re.escape(path.name), re.escape(path.suffix)
    return re.compile(rf"\.{name}\.[a-z0-9_]{{8}}(\.[\w-]+)*\.tmp({extension})?")


def remove_stale_temporaries(path) -> list[Path]:
    """Remove temporary files of saves to `path` older than an hour; return what was removed."""
    path = Path(path)
    pattern, cutoff, removed = _temporary_name(path), time.time() - STALE_AFTER_SECONDS, []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed  # the save itself will report a missing or unreadable directory
    for entry in entries:
        try:
            if (
                pattern.fullmatch(entry.name)
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < cutoff
            ):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass  # removed meanwhile by another save, or not ours to remove: not this save's error
    return removed


def _write_error(path: Path, error: OSError) -> OSError:
    """`error` retold as "cannot write {path}: {reason}", of the same class and errno."""
    reason = error.strerror or str(error)
    try:
        retold = type(error)(f"cannot write {path}: {reason}")
    except Exception:  # an OSError subclass with a constructor of its own
        retold = OSError(f"cannot write {path}: {reason}")
    retold.errno = error.errno
    return retold


@contextmanager
def atomic_path(path, suffix: str = "", keep_extension: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` only if the block succeeds.

    keep_extension: the temporary name also ends in the target's extension (Keras insists
    on `.keras`).
    """
    path = Path(path)
    ending = suffix + ".tmp" + (path.suffix if keep_extension else "")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        # Same directory, so os.replace is a rename on one filesystem (atomic on POSIX).
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=ending, dir=path.parent)
        os.close(fd)
        tmp = Path(tmp)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
    except OSError as e:
        raise _write_error(path, e) from e
    try:
        try:
            yield tmp
        except OSError as e:  # writing the temporary file failed: say which file was meant
            if e.filename in (str(tmp), tmp) or e.errno in _WRITE_ERRNOS:
                raise _write_error(path, e) from e
            raise
        try:
            os.replace(tmp, path)
        except OSError as e:  # e.g. the target is a directory
            raise _write_error(path, e) from e
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path, text: str) -> None:
    """Write UTF-8 text to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
