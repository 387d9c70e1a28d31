"""Atomic writes: all or nothing, ordinary permissions, errors naming the target, no orphans."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from rnnlib._io import atomic_path, atomic_write_text


def test_atomic_write_replaces_the_file_with_ordinary_permissions(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(target.parent) == ["out.txt"]  # no temporary files left behind


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


# --- errors name the target ---------------------------------------------------------------------


def test_a_read_only_place_is_reported_with_the_target_path(read_only_dir):
    """A real read-only mount (root ignores chmod): the message names out.txt, not a .tmp file."""
    _, view = read_only_dir
    target = view / "out.txt"
    with pytest.raises(OSError) as info:
        atomic_write_text(target, "text")
    assert str(info.value) == f"cannot write {target}: Read-only file system"
    assert info.value.errno == errno.EROFS


def test_a_full_disk_loses_nothing_and_names_the_target(small_tmpfs):
    """A real 64 KB tmpfs: a save too big for it fails, the old file stays, no temporary."""
    disk = small_tmpfs(64)
    target = disk / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(OSError) as info:
        atomic_write_text(target, "x" * 200_000)
    assert str(info.value) == f"cannot write {target}: No space left on device"
    assert target.read_text() == "old"
    assert os.listdir(disk) == ["out.txt"]


# --- temporary files of killed saves ------------------------------------------------------------

HOUR = 3600


def age(path, seconds: float) -> None:
    """Set a file's modification time `seconds` into the past."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_old_temporaries_of_the_same_target_are_removed_on_the_next_save(tmp_path):
    ours_old = tmp_path / ".out.txt.k3x9_a0b.tmp"  # mkstemp's 8 characters, as a killed save
    ours_part = tmp_path / ".out.txt.q1w2e3r4.part.tmp"  # a killed download (suffix=".part")
    ours_keras = tmp_path / ".out.txt.z9y8x7w6.tmp.txt"  # keep_extension=True
    ours_recent = tmp_path / ".out.txt.abcdefgh.tmp"  # maybe a save running right now
    others = [
        tmp_path / ".other.txt.k3x9_a0b.tmp",  # another target's
        tmp_path / "out.txt.k3x9_a0b.tmp",  # not hidden: not our naming
        tmp_path / ".out.txt.short.tmp",  # not 8 characters
        tmp_path / ".out.txt.k3x9_a0b.tmp.bak",  # does not end as ours do
        tmp_path / "notes.tmp",
    ]
    for path in [ours_old, ours_part, ours_keras, ours_recent, *others]:
        path.write_text("left over")
        if path is not ours_recent:
            age(path, HOUR + 60)
    atomic_write_text(tmp_path / "out.txt", "new")
    left = set(os.listdir(tmp_path))
    assert left == {"out.txt", ours_recent.name, *(p.name for p in others)}


KILLED_SAVE = """
import sys, time
from rnnlib._io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a checkpoint" * 1000)
    print("writing", flush=True)
    time.sleep(120)
"""


def test_a_save_killed_midway_leaves_a_temporary_that_a_later_save_removes(tmp_path):
    """A real SIGKILL mid-save: the old file is intact; the orphan goes once it is an hour old."""
    target = tmp_path / "run.txt"
    atomic_write_text(target, "old")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVE, str(target)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout.readline() == "writing\n"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL
    (orphan,) = [p for p in tmp_path.iterdir() if p != target]
    assert orphan.name.startswith(".run.txt.") and orphan.name.endswith(".tmp")
    assert target.read_text() == "old"
    atomic_write_text(target, "second")  # minutes old at most: it might be a live save
    assert orphan.exists()
    age(orphan, HOUR + 1)
    atomic_write_text(target, "third")
    assert sorted(os.listdir(tmp_path)) == ["run.txt"] and target.read_text() == "third"
