"""Run-size settings shared by the notebooks: full by default, small under RNNLIB_QUICK=1 (every notebook)."""

import os

QUICK_ENV = "RNNLIB_QUICK"


def quick_mode() -> bool:
    """True when RNNLIB_QUICK is set to a true value (1, true, yes, on)."""
    value = os.environ.get(QUICK_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{QUICK_ENV}={value!r}: expected one of 1/true/yes/on or 0/false/no/off")


def pick(full, quick):
    """Return `quick` in quick mode (CI), `full` otherwise (a learner's default run)."""
    return quick if quick_mode() else full
