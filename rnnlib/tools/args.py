"""Argument types for the command lines: one clear error naming the bad value and what was expected."""

import argparse
import math

from rnnlib.interface import check_seed


def _argument_type(parse, accept, expected: str, doc: str):
    """An argparse type: `parse` the text, then check it with `accept`; one clear error for both."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    convert.__doc__ = doc
    return convert


positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer", "an integer >= 1")
non_negative_int = _argument_type(int, lambda v: v >= 0, "an integer >= 0", "an integer >= 0")
positive_float = _argument_type(
    float, lambda v: math.isfinite(v) and v > 0, "a positive number", "a finite number > 0"
)
non_negative_float = _argument_type(
    float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0", "a finite number >= 0"
)
dropout_rate = _argument_type(
    float, lambda v: 0 <= v < 1, "a dropout rate in [0, 1)", "a share of units dropped, in [0, 1)"
)
truncation = _argument_type(
    int, lambda v: v >= -1, "an integer >= 0, or -1 for full BPTT", "bptt_truncate (-1: full)"
)


def _accepted_by(check):
    """True for a value that `check` (one of rnnlib.interface's) accepts."""

    def accept(value) -> bool:
        try:
            check(value)
        except ValueError:
            return False
        return True

    return accept


seed = _argument_type(int, _accepted_by(check_seed), "an integer in [0, 2**31)", "a seed")


class CommandFailed(Exception):
    """What stops a command: main() prints its message on one line and returns status 1."""


def load_or_fail(path, parser, context: str = ""):
    """The checkpoint at `path`; a missing one is a bad argument (status 2), a broken one a
    bad file (status 1), each one line."""
    from rnnlib.training.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path)
    except CheckpointError as e:  # the file is there but wrong: it names itself and why
        raise CommandFailed(f"{context}{e}") from e
    except (FileNotFoundError, ValueError, IsADirectoryError) as e:
        parser.error(f"{context}{e}")
