"""User-facing errors.

Anything the user can fix (a bad path, an unknown name, a corrupt file) is
raised as a :class:`GanforgeError` whose message names the problem; the CLI
prints it on one line and exits with status 2, without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class GanforgeError(Exception):
    """An error caused by input the user can correct."""


def unknown_choice(kind: str, name: str, choices: Iterable[str]) -> GanforgeError:
    """Error for a name that is not among the valid choices, listing them."""
    valid = ", ".join(sorted(choices))
    return GanforgeError(f"unknown {kind} '{name}'; valid choices: {valid}")


def one_line(error: BaseException) -> str:
    """An exception as one line: download errors, for one, span several."""
    return " ".join(f"{type(error).__name__}: {error}".split())
